// Noise (ts2021) primitives for lib/control: the same libsodium and libb2 code the data plane uses, so the
// control plane needs no BLAKE2s or ChaCha20-Poly1305 from the host's node:crypto (Electron's BoringSSL and
// Bun lack them). Pure functions of their arguments: no state, no engine thread. docs/dependencies.md says
// why this beat @noble/* and node:crypto.
#include "crypto.h"

#include <cstring>

extern "C" {
#include "crypto/crypto.h"
}

namespace tsnet {
namespace {

constexpr size_t kNonceLen = 12;

Napi::Value Fail(Napi::Env env, const char* msg) {
  Napi::TypeError e = Napi::TypeError::New(env, msg);
  e.Set("code", "ERR_INVALID_ARG_TYPE");
  e.ThrowAsJavaScriptException();
  return {};
}

// A Uint8Array argument (any length unless want > 0).
bool Bytes(const Napi::Value& v, size_t want, const uint8_t** p, size_t* n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  if (want && a.ByteLength() != want) return false;
  *p = a.Data();
  *n = a.ByteLength();
  return true;
}

// blake2s(parts: Uint8Array[]): the BLAKE2s-256 hash of the parts' concatenation.
Napi::Value Blake2s(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) return Fail(env, "blake2s(parts): parts must be an array of Uint8Array");
  Napi::Array parts = info[0].As<Napi::Array>();
  ts_blake2s_ctx ctx;
  ts_blake2s_init(&ctx, TS_BLAKE2S_OUT, nullptr, 0);
  for (uint32_t i = 0; i < parts.Length(); i++) {
    const uint8_t* p;
    size_t n;
    if (!Bytes(parts.Get(i), 0, &p, &n)) {
      ts_wipe(&ctx, sizeof ctx);
      return Fail(env, "blake2s(parts): parts must be an array of Uint8Array");
    }
    ts_blake2s_update(&ctx, p, n);
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, TS_BLAKE2S_OUT);
  ts_blake2s_final(&ctx, out.Data(), TS_BLAKE2S_OUT);
  return out;
}

// kdf2(chainingKey: 32 bytes, input): Noise's HKDF with HMAC-BLAKE2s, both 32-byte outputs in one buffer.
Napi::Value Kdf2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t *ck, *in;
  size_t ckn, inn;
  if (!Bytes(info[0], TS_KEY_LEN, &ck, &ckn) || !Bytes(info[1], 0, &in, &inn))
    return Fail(env, "kdf2(chainingKey, input): a 32-byte Uint8Array and a Uint8Array");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, 2 * TS_KEY_LEN);
  ts_kdf(out.Data(), out.Data() + TS_KEY_LEN, nullptr, ck, in, inn);
  return out;
}

struct AeadArgs {
  const uint8_t *key, *nonce, *ad, *data;
  size_t keyn, noncen, adn, datan;
};

bool ParseAead(const Napi::CallbackInfo& info, AeadArgs* a) {
  return Bytes(info[0], TS_KEY_LEN, &a->key, &a->keyn) && Bytes(info[1], kNonceLen, &a->nonce, &a->noncen) &&
         Bytes(info[2], 0, &a->ad, &a->adn) && Bytes(info[3], 0, &a->data, &a->datan);
}

// chachaSeal(key, nonce(12), ad, plaintext): ChaCha20-Poly1305 (RFC 8439), ciphertext then tag.
Napi::Value ChachaSeal(const Napi::CallbackInfo& info) {
  AeadArgs a;
  if (!ParseAead(info, &a))
    return Fail(info.Env(), "chachaSeal(key, nonce, ad, plaintext): Uint8Arrays, key 32 bytes, nonce 12");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), a.datan + TS_AEAD_TAG_LEN);
  ts_chacha_seal(out.Data(), a.data, a.datan, a.ad, a.adn, a.nonce, a.key);
  return out;
}

// chachaOpen(key, nonce(12), ad, ciphertext): the plaintext, or null when the tag does not verify.
Napi::Value ChachaOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AeadArgs a;
  if (!ParseAead(info, &a))
    return Fail(env, "chachaOpen(key, nonce, ad, ciphertext): Uint8Arrays, key 32 bytes, nonce 12");
  if (a.datan < TS_AEAD_TAG_LEN) return env.Null();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, a.datan - TS_AEAD_TAG_LEN);
  if (ts_chacha_open(out.Data(), a.data, a.datan, a.ad, a.adn, a.nonce, a.key) != 0) {
    ts_wipe(out.Data(), out.Length());
    return env.Null();
  }
  return out;
}

// x25519Public(privateKey): the public key (the private key is clamped first, as X25519 does).
Napi::Value X25519Public(const Napi::CallbackInfo& info) {
  const uint8_t* priv;
  size_t n;
  if (!Bytes(info[0], TS_KEY_LEN, &priv, &n)) return Fail(info.Env(), "x25519Public(privateKey): a 32-byte Uint8Array");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), TS_KEY_LEN);
  ts_x25519_public(out.Data(), priv);
  return out;
}

// x25519(privateKey, publicKey): the shared secret, or null for a low-order public key (all-zero result).
Napi::Value X25519(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t *priv, *pub;
  size_t n;
  if (!Bytes(info[0], TS_KEY_LEN, &priv, &n) || !Bytes(info[1], TS_KEY_LEN, &pub, &n))
    return Fail(env, "x25519(privateKey, publicKey): two 32-byte Uint8Arrays");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, TS_KEY_LEN);
  if (ts_x25519(out.Data(), priv, pub) != 0) return env.Null();
  return out;
}

}  // namespace

void ExportCrypto(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("blake2s", Napi::Function::New(env, Blake2s, "blake2s"));
  c.Set("kdf2", Napi::Function::New(env, Kdf2, "kdf2"));
  c.Set("chachaSeal", Napi::Function::New(env, ChachaSeal, "chachaSeal"));
  c.Set("chachaOpen", Napi::Function::New(env, ChachaOpen, "chachaOpen"));
  c.Set("x25519Public", Napi::Function::New(env, X25519Public, "x25519Public"));
  c.Set("x25519", Napi::Function::New(env, X25519, "x25519"));
  exports.Set("crypto", c);
}

}  // namespace tsnet
