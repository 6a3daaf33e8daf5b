import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  clampPrivateKey,
  discoPublicToText,
  generateKeyPair,
  generatePrivateKey,
  keyToText,
  machinePublicToText,
  nodePublicToText,
  parseChallengePublic,
  parseDiscoPublic,
  parseKeyText,
  parseMachinePublic,
  parseNodePublic,
  parsePrivate,
  privateToText,
  publicFromPrivate,
  x25519,
  isZeroKey,
} from '../lib/wire/keys.js';

const hex = 'c5ad267283eabfcabe08084820d30920c398cc91f23ca99e9e6579016cd0b536';

test('text forms round-trip with the right prefixes, lower-case hex', () => {
  const k = Buffer.from(hex, 'hex');
  assert.equal(nodePublicToText(k), 'nodekey:' + hex);
  assert.equal(machinePublicToText(k), 'mkey:' + hex);
  assert.equal(discoPublicToText(k), 'discokey:' + hex);
  assert.equal(privateToText(k), 'privkey:' + hex);
  assert.deepEqual(parseNodePublic('nodekey:' + hex), k);
  assert.deepEqual(parseMachinePublic('mkey:' + hex), k);
  assert.deepEqual(parseDiscoPublic('discokey:' + hex), k);
  assert.deepEqual(parsePrivate('privkey:' + hex), k);
  assert.deepEqual(parseChallengePublic('chalpub:' + hex), k);
  // Upper-case hex is accepted on input (Go's hex decoder does), output is lower-case.
  assert.equal(nodePublicToText(parseNodePublic('nodekey:' + hex.toUpperCase())), 'nodekey:' + hex);
  // Bare hex only where allowed (legacy /key).
  assert.deepEqual(parseMachinePublic(hex, true), k);
  for (let i = 0; i < 20; i++) {
    const kp = generateKeyPair();
    assert.deepEqual(parseNodePublic(nodePublicToText(kp.publicKey)), kp.publicKey);
    assert.deepEqual(parsePrivate(privateToText(kp.privateKey)), kp.privateKey);
  }
});

test('bad key text is rejected with ERR_KEY_FORMAT', () => {
  const bad: unknown[] = [
    hex, // no prefix
    'mkey:' + hex, // wrong prefix for a node key
    'nodekey:' + hex.slice(2), // short
    'nodekey:' + hex + '00', // long
    'nodekey:' + hex.slice(0, 62) + 'zz', // not hex
    'nodekey: ' + hex.slice(1),
    'NODEKEY:' + hex,
    '',
    null,
    42,
    { key: hex },
  ];
  for (const b of bad) assert.throws(() => parseNodePublic(b), { code: 'ERR_KEY_FORMAT' }, String(b));
  assert.throws(() => parseMachinePublic(hex), { code: 'ERR_KEY_FORMAT' });
  assert.throws(() => parseKeyText('discokey:', 'discokey:' + 'g'.repeat(64)), { code: 'ERR_KEY_FORMAT' });
  assert.throws(() => keyToText('nodekey:', Buffer.alloc(31)), { code: 'ERR_KEY_INVALID' });
});

test('private keys are clamped; X25519 agrees both ways; low-order points are refused', () => {
  const raw = Buffer.alloc(32, 0xff);
  const c = clampPrivateKey(raw);
  assert.equal(c[0], 0xf8);
  assert.equal(c[31], 0x7f);
  assert.equal(raw[0], 0xff, 'input untouched');
  const g = generatePrivateKey();
  assert.equal(g[0]! & 7, 0);
  assert.equal(g[31]! & 0xc0, 0x40);
  const a = generateKeyPair();
  const b = generateKeyPair();
  assert.deepEqual(x25519(a.privateKey, b.publicKey), x25519(b.privateKey, a.publicKey));
  assert.deepEqual(publicFromPrivate(a.privateKey), a.publicKey);
  assert.throws(() => x25519(a.privateKey, Buffer.alloc(32)), { code: 'ERR_KEY_INVALID' });
  assert.ok(isZeroKey(Buffer.alloc(32)));
  assert.ok(!isZeroKey(a.publicKey));
});

test('RFC 7748 §6.1 X25519 test vector', () => {
  const alicePriv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
  const bobPub = Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex');
  assert.equal(publicFromPrivate(alicePriv).toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.equal(x25519(alicePriv, bobPub).toString('hex'), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
});
