// The control plane's Noise primitives, three ways, in one run (docs/dependencies.md, "Noise crypto"):
//   addon:       the core's libsodium and libb2 through the addon (what lib/control/noise.ts uses)
//   node:crypto: createCipheriv('chacha20-poly1305') and createHash/createHmac('blake2s256'), which
//                Electron's BoringSSL and Bun lack
//   @noble:      @noble/ciphers and @noble/hashes (pure JavaScript), when NOBLE_DIR names a folder where
//                both are installed (they are not dependencies of the package)
// Rows: one transport record (4077-byte plaintext, the largest ts2021 frame) sealed and opened, and the
// handshake's hashing (one mixHash and one HKDF).
// Run: npm run -s build:ts && node bench/noise-crypto.mjs
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { loadNative } = require('../dist/native.js');
const native = loadNative().crypto;

const key = randomBytes(32), nonce = Buffer.alloc(12), ad = Buffer.alloc(0), pt = randomBytes(4077), h = randomBytes(32);
const impls = {
  addon: {
    seal: (k, n, a, p) => native.chachaSeal(k, n, a, p),
    open: (k, n, a, c) => native.chachaOpen(k, n, a, c),
    hash: (a, b) => native.blake2s([a, b]),
    kdf: (ck, ikm) => native.kdf2(ck, ikm),
  },
  'node:crypto': {
    seal(k, n, a, p) {
      const c = createCipheriv('chacha20-poly1305', k, n, { authTagLength: 16 });
      c.setAAD(a, { plaintextLength: p.length });
      const body = c.update(p); c.final();
      return Buffer.concat([body, c.getAuthTag()]);
    },
    open(k, n, a, ct) {
      const d = createDecipheriv('chacha20-poly1305', k, n, { authTagLength: 16 });
      d.setAAD(a, { plaintextLength: ct.length - 16 });
      d.setAuthTag(ct.subarray(ct.length - 16));
      const body = d.update(ct.subarray(0, ct.length - 16)); d.final();
      return body;
    },
    hash: (a, b) => createHash('blake2s256').update(a).update(b).digest(),
    kdf(ck, ikm) {
      const hm = (k, ...p) => { const m = createHmac('blake2s256', k); for (const x of p) m.update(x); return m.digest(); };
      const prk = hm(ck, ikm), o1 = hm(prk, Buffer.from([1]));
      return [o1, hm(prk, o1, Buffer.from([2]))];
    },
  },
};
if (process.env.NOBLE_DIR) {
  const dir = path.resolve(process.env.NOBLE_DIR, 'node_modules');
  const { chacha20poly1305 } = await import(path.join(dir, '@noble/ciphers/chacha.js'));
  const { blake2s } = await import(path.join(dir, '@noble/hashes/blake2.js'));
  const { hmac } = await import(path.join(dir, '@noble/hashes/hmac.js'));
  impls['@noble'] = {
    seal: (k, n, a, p) => chacha20poly1305(k, n, a).encrypt(p),
    open: (k, n, a, c) => chacha20poly1305(k, n, a).decrypt(c),
    hash: (a, b) => blake2s.create().update(a).update(b).digest(),
    kdf(ck, ikm) {
      const prk = hmac(blake2s, ck, ikm), o1 = hmac(blake2s, prk, Uint8Array.of(1));
      const m = hmac.create(blake2s, prk); m.update(o1); m.update(Uint8Array.of(2));
      return [o1, m.digest()];
    },
  };
}

function rate(fn, ms = 600) {
  for (let i = 0; i < 200; i++) fn(); // warm up
  let n = 0;
  const t0 = process.hrtime.bigint(), end = t0 + BigInt(ms) * 1000000n;
  let now = t0;
  while (now < end) { for (let i = 0; i < 50; i++) fn(); n += 50; now = process.hrtime.bigint(); }
  return Number(now - t0) / 1000 / n; // µs per call
}

// Every implementation must agree with the others before it is timed.
const ref = impls.addon.seal(key, nonce, ad, pt);
for (const [name, im] of Object.entries(impls)) {
  if (!Buffer.from(im.seal(key, nonce, ad, pt)).equals(ref)) throw new Error(`${name}: seal disagrees`);
  if (!Buffer.from(im.open(key, nonce, ad, ref)).equals(pt)) throw new Error(`${name}: open disagrees`);
}

const rows = [];
for (const [name, im] of Object.entries(impls)) {
  const sealUs = rate(() => im.seal(key, nonce, ad, pt));
  const openUs = rate(() => im.open(key, nonce, ad, ref));
  const hsUs = rate(() => { im.hash(h, pt.subarray(0, 48)); im.kdf(h, h); });
  rows.push({ impl: name, 'seal 4077 B µs': +sealUs.toFixed(2), 'open µs': +openUs.toFixed(2),
    'MB/s (seal)': Math.round(4077 / sealUs), 'mixHash+HKDF µs': +hsUs.toFixed(2) });
}
console.table(rows);
