/* OpenSSL's Poly1305 assembly for this target (aead_asm.h picks the flavour), generated into the ignored
 * deps/openssl-asm by scripts/openssl-asm.sh with every global renamed ts_ossl_* and hidden
 * (docs/dependencies.md, "OpenSSL's ChaCha20 and Poly1305 assembly"). Nothing on other targets. One file
 * per algorithm: the two share local label names. */
#include "crypto/aead_asm.h"
#if TS_AEAD_ASM
#if defined(__has_include) && !__has_include(TS_AEAD_POLY)
#error "OpenSSL's assembly is missing from deps/openssl-asm: run scripts/deps.sh (or define TS_AEAD_NO_ASM to use libsodium's AEAD)"
#endif
#include TS_AEAD_POLY
#endif
#if defined(__ELF__)
.section .note.GNU-stack,"",%progbits
#endif
