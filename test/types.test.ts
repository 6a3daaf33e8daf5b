// The published types as a user's strict TypeScript sees them (issue 15, point 3): dist/*.d.ts check with
// skipLibCheck off, every event payload is typed, bad network names and options do not compile, and
// internal members stay out (tsconfig.json's stripInternal). The fixture marks each mistake with an
// expect-error directive, so a type that lets one through fails the compile.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..');

test('a strict user program type-checks against dist/*.d.ts, and the types catch its mistakes', { timeout: 120_000 }, () => {
  assert.ok(fs.existsSync(path.join(root, 'dist', 'index.d.ts')), 'dist/ is built (npm run build:ts)');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'test', 'fixtures', 'types', 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const dts = fs.readFileSync(path.join(root, 'dist', 'net', 'socket.d.ts'), 'utf8');
  assert.ok(!dts.includes('onNativeEvent') && !dts.includes('abortDial'), 'internal members are not published');
});
