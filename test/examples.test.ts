// The examples run as written, print what they promise, and the process exits cleanly (no native abort
// while Node tears down with engine events still queued: the WireGuard example used to end in a FATAL
// ERROR from napi_throw during environment cleanup).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const run = (file: string) => spawnSync(process.execPath, [path.join(root, 'examples', file)], { cwd: root, encoding: 'utf8', timeout: 60_000 });

const cases: Array<[string, RegExp]> = [
  ['wireguard.mjs', /hi 10\.7\.0\.2, from 10\.7\.0\.1/],
  ['express.mjs', /you: 'cli\.devnet\.internal\.'/],
  ['ws.mjs', /user\.devnet\.internal\. said: hello over WireGuard/],
  ['https.mjs', /verified: hello from https:\/\/web\.devnet\.internal\//],
  ['undici.mjs', /apples: sold out, pears: in stock, plums: in stock, figs: sold out\ninventory answered 4 requests/],
  ['funnel.mjs', /public client -> web\.devnet\.internal: hello from web\.devnet\.internal, you are 127\.0\.0\.1:\d+ \(through Funnel\)/],
];

for (const [file, expected] of cases) {
  test(`examples/${file} runs and exits cleanly`, { timeout: 120_000 }, () => {
    for (let i = 0; i < 2; i++) {
      const r = run(file);
      assert.equal(r.status, 0, `${file} exited with ${r.status} (${r.signal ?? ''}):\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /FATAL ERROR/);
      assert.match(r.stdout, expected);
    }
  });
}
