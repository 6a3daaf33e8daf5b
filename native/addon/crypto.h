// The control plane's primitives from the core's crypto module (docs/dependencies.md, "Noise crypto").
#ifndef TSNET_ADDON_CRYPTO_H
#define TSNET_ADDON_CRYPTO_H

#include <napi.h>

namespace tsnet {
// Adds the `crypto` object (blake2s, kdf2, chachaSeal, chachaOpen, x25519Public, x25519) to exports.
void ExportCrypto(Napi::Env env, Napi::Object exports);
}  // namespace tsnet

#endif
