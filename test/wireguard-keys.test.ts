// Key hygiene of the WireGuard mode: low-order peer keys are refused when configured (constructor, wg-quick
// file, addPeer) with a coded error instead of timing out later.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { WireGuard } from '../lib/index.js';
import { generateKeyPair, isLowOrderKey, x25519 } from '../lib/control/keys.js';

const b64 = (b: Buffer) => b.toString('base64');
const open: WireGuard[] = [];
after(async () => {
  for (const w of open) await w.close();
});

// Public constants (RFC 7748 section 6.1; libsodium's blocklist): u = 0, and a point of order 8.
const ZERO = Buffer.alloc(32);
const ORDER8 = Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex');
// p - 1 with the top bit set: X25519 ignores that bit, so this is low order too.
const PM1_HI = Buffer.from(`ec${'ff'.repeat(30)}ff`, 'hex');

test('isLowOrderKey matches exactly the keys whose X25519 with a private key is all zeros', () => {
  const k = generateKeyPair();
  for (const bad of [ZERO, ORDER8, PM1_HI]) {
    assert.equal(isLowOrderKey(bad), true);
    assert.throws(() => x25519(k.privateKey, bad), { code: 'ERR_KEY_INVALID' });
  }
  for (let i = 0; i < 20; i++) {
    const pub = generateKeyPair().publicKey;
    assert.equal(isLowOrderKey(pub), false);
    assert.equal(x25519(k.privateKey, pub).length, 32);
  }
});

test('a low-order peer key is refused at configuration time with ERR_TSNET_LOW_ORDER_KEY', async () => {
  const ka = generateKeyPair();
  const base = { privateKey: b64(ka.privateKey), address: ['10.8.0.1/32'] };
  for (const bad of [ZERO, ORDER8, PM1_HI]) {
    assert.throws(() => new WireGuard({ ...base, peers: [{ publicKey: b64(bad), allowedIPs: ['10.8.0.2/32'] }] }),
      { name: 'TypeError', code: 'ERR_TSNET_LOW_ORDER_KEY', message: /peers\[0\]\.publicKey/ });
    const conf = `[Interface]\nPrivateKey = ${base.privateKey}\nAddress = 10.8.0.1/32\n\n[Peer]\nPublicKey = ${b64(bad)}\nAllowedIPs = 10.8.0.2/32\n`;
    assert.throws(() => WireGuard.fromConfig(conf), { code: 'ERR_TSNET_LOW_ORDER_KEY' });
  }
  const w = new WireGuard(base);
  open.push(w);
  await w.start();
  await assert.rejects(w.addPeer({ publicKey: b64(ORDER8), allowedIPs: ['10.8.0.2/32'], endpoint: '127.0.0.1:9' }),
    { name: 'TypeError', code: 'ERR_TSNET_LOW_ORDER_KEY' });
  assert.deepEqual(w.stats(), [], 'nothing was configured');
  await w.addPeer({ publicKey: b64(generateKeyPair().publicKey), allowedIPs: ['10.8.0.3/32'] });
  assert.equal(w.stats().length, 1);
});
