#include "crypto/crypto.h"
#include "test.h"

static void x25519_rfc7748_6_1(void) {
  uint8_t k[32], u[32], want[32], out[32];
  ts_hex(k, 32, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  ts_hex(u, 32, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
  ts_hex(want, 32, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  CHECK_EQ_INT(ts_x25519(out, k, u), 0);
  CHECK_MEM(out, want, 32);
}

int main(void) {
  if (ts_crypto_init() != 0) return 2;
  RUN(x25519_rfc7748_6_1);
  TEST_MAIN_END();
}
