import { execFile } from 'node:child_process';
import { startDevnet } from '/work/wt-stream/lib/devnet/index.ts';
const [cmd, ...pre] = process.argv.slice(2);
const devnet = await startDevnet();
const key = devnet.createAuthKey({ reusable: true });
execFile(cmd!, [...pre, 'test/fixtures/runtime/nodes.mjs', devnet.controlURL, key, 'bun', process.env.MODE ?? 'all'], { timeout: 60_000, env: process.env }, (err, stdout, stderr) => {
  console.log('ERR', err?.message);
  console.log('STDOUT', stdout.slice(-3000));
  console.log('STDERR', stderr.slice(-4000));
  devnet.close();
});
