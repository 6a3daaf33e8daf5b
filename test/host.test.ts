// What a host runtime may lack. Without node:crypto's BLAKE2s and ChaCha20-Poly1305, as in Electron
// (BoringSSL) or Bun, Noise takes them from the addon (docs/dependencies.md, "Noise crypto"), so nodes still
// join and talk; Electron itself cannot be downloaded here, and a child process with those algorithms
// removed stands in for it. Without a native binary, every call fails with ERR_TSNET_NATIVE_MISSING.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { loadNative } from '../lib/native.js';

const here = path.join(__dirname, 'fixtures', 'host');

test('two nodes join and fetch over the tailnet with node:crypto lacking BLAKE2s and ChaCha20-Poly1305', { timeout: 60_000 }, async () => {
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--require', path.join(here, 'without-blake2s.cjs'), '--import', 'tsx', path.join(here, 'two-nodes.mts')],
      { timeout: 55_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))));
  const r = JSON.parse(out.trim().split('\n').pop()!) as { hostHasBlake2s: boolean; status: number; caller: string };
  assert.equal(r.hostHasBlake2s, false, 'the preload took BLAKE2s away');
  assert.equal(r.status, 200);
  assert.match(r.caller, /^client\./, 'whoIs named the caller');
});

test('the addon\'s Noise primitives match RFC 7693 and RFC 8439 vectors and refuse bad arguments', () => {
  const c = loadNative().crypto;
  // RFC 7693 appendix B: BLAKE2s-256("abc").
  assert.equal(c.blake2s([Buffer.from('a'), Buffer.from('bc')]).toString('hex'),
    '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
  // RFC 8439 section 2.8.2.
  const key = Buffer.from('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', 'hex');
  const nonce = Buffer.from('070000004041424344454647', 'hex');
  const ad = Buffer.from('50515253c0c1c2c3c4c5c6c7', 'hex');
  const pt = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
  const sealed = c.chachaSeal(key, nonce, ad, pt);
  assert.equal(sealed.subarray(0, 16).toString('hex'), 'd31a8d34648e60db7b86afbc53ef7ec2');
  assert.equal(sealed.subarray(-16).toString('hex'), '1ae10b594f09e26a7e902ecbd0600691');
  assert.deepEqual(c.chachaOpen(key, nonce, ad, sealed), pt);
  sealed[5]! ^= 1;
  assert.equal(c.chachaOpen(key, nonce, ad, sealed), null, 'a flipped bit fails the tag');
  assert.equal(c.chachaOpen(key, nonce, ad, Buffer.alloc(15)), null, 'shorter than a tag');
  // RFC 7748 section 6.1.
  const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
  const bobPub = Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex');
  assert.equal(c.x25519Public(alice).toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(c.x25519(alice, bobPub)!.toString('hex'), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  assert.equal(c.x25519(alice, Buffer.alloc(32)), null, 'a low-order point gives no secret');
  for (const bad of [() => c.chachaSeal(key.subarray(1), nonce, ad, pt), () => c.kdf2(key, 'x' as unknown as Uint8Array),
    () => c.blake2s([1] as unknown as Uint8Array[]), () => c.x25519Public(new Uint16Array(16) as unknown as Uint8Array)]) {
    assert.throws(bad, { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  }
});

test('without a native binary, up(), listen() and dial() fail with ERR_TSNET_NATIVE_MISSING', { timeout: 30_000 }, async () => {
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--require', path.join(here, 'no-addon.cjs'), '--import', 'tsx', path.join(here, 'no-addon.mts')],
      { timeout: 25_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))));
  const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, string>;
  assert.deepEqual(r, { up: 'ERR_TSNET_NATIVE_MISSING', listen: 'ERR_TSNET_NATIVE_MISSING', dial: 'ERR_TSNET_NATIVE_MISSING' });
});
