/* The CPU capability vector OpenSSL's assembly reads (OPENSSL_ia32cap_P on x86_64, OPENSSL_armcap_P on arm64,
 * renamed ts_ossl_* by scripts/openssl-asm.sh). Filled here instead of by OpenSSL's own probe, with the
 * layout OpenSSL documents for OPENSSL_ia32cap: word 0 CPUID(1).EDX, word 1 CPUID(1).ECX with bit 11 standing
 * for AMD's XOP, words 2 and 3 CPUID(7,0).EBX and ECX, and the AVX/AVX-512 bits cleared when the OS does not
 * save the registers (XCR0). The one piece of process-wide state the crypto code has: written by
 * ts_aead_cpu_init before the engine runs (always the same value for a process), read by the assembly. A
 * later ts_crypto_init (another addon instance, a worker) leaves it alone while engines may be reading it. */
#include "crypto/aead.h"
#include "crypto/aead_asm.h"

#include <stdatomic.h>
#include <string.h>

#if TS_AEAD_ASM && defined(TS_AEAD_X86_64)
#include <cpuid.h>

#if defined(_WIN32)
#define TS_HIDDEN
#else
#define TS_HIDDEN __attribute__((visibility("hidden")))
#endif

TS_HIDDEN unsigned int ts_ossl_OPENSSL_ia32cap_P[4];

static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static void probe(unsigned int cap[4]) {
  unsigned int a = 0, b = 0, c = 0, d = 0, max = 0;
  memset(cap, 0, 4 * sizeof cap[0]);
  if (!__get_cpuid(0, &max, &b, &c, &d)) return;
  const int amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163; /* "AuthenticAMD" */
  const int intel = b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e; /* "GenuineIntel" */
  unsigned int xop = 0;
  if (amd && __get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000001) {
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) xop = c & (1u << 11);
  }
  if (!__get_cpuid(1, &a, &b, &c, &d)) return;
  const unsigned int fms = a & 0x0fff0ff0;
  cap[0] = d & 0xbfefffff;
  cap[1] = (c & ~(1u << 11)) | xop;
  if (max >= 7) {
    a = b = c = d = 0;
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    /* As OpenSSL does: no 512-bit AVX-512 on Skylake-X, whose clock drops with it (AVX-512VL stays). */
    if (intel && fms == 0x00050650) b &= ~(1u << 16);
    cap[2] = b;
    cap[3] = c;
  }
  const uint64_t xcr0 = (cap[1] & (1u << 27)) ? xgetbv0() : 0; /* OSXSAVE */
  if ((xcr0 & 0xe6) != 0xe6) cap[2] &= ~(1u << 31 | 1u << 30 | 1u << 21 | 1u << 16); /* no ZMM state */
  if ((xcr0 & 6) != 6) {                                                                /* no YMM state */
    cap[1] &= ~(1u << 28 | 1u << 12 | 1u << 11);
    cap[2] &= ~(1u << 31 | 1u << 30 | 1u << 21 | 1u << 16 | 1u << 5);
  }
}

static atomic_int cpu_ready;

void ts_aead_cpu_init(void) {
  if (atomic_load(&cpu_ready)) return;
  probe(ts_ossl_OPENSSL_ia32cap_P);
  atomic_store(&cpu_ready, 1);
}

/* What the CPU has, less what is above level: word 1 holds SSSE3 (bit 9), XOP (11) and AVX (28); word 2
 * AVX2 (5), AVX-512F (16), IFMA (21) and VL (31), the bits the assembly tests. */
static void limited(enum ts_aead_level level, unsigned int cap[4]) {
  static const unsigned int keep1[] = {[TS_AEAD_LEVEL_SCALAR] = ~(1u << 9 | 1u << 28 | 1u << 11),
                                       [TS_AEAD_LEVEL_SSSE3] = ~(1u << 28 | 1u << 11)};
  static const unsigned int keep2[] = {[TS_AEAD_LEVEL_SCALAR] = 0,
                                       [TS_AEAD_LEVEL_SSSE3] = 0,
                                       [TS_AEAD_LEVEL_AVX] = 0,
                                       [TS_AEAD_LEVEL_AVX2] = 1u << 5,
                                       [TS_AEAD_LEVEL_AVX512VL] = 1u << 5 | 1u << 31,
                                       [TS_AEAD_LEVEL_AVX512F] = ~(1u << 21),
                                       [TS_AEAD_LEVEL_ALL] = ~0u};
  probe(cap);
  if (level <= TS_AEAD_LEVEL_SSSE3) cap[1] &= keep1[level];
  cap[2] &= keep2[level];
}

int ts_aead_cpu_limit(enum ts_aead_level level) {
  unsigned int cap[4], below[4];
  if ((unsigned)level > TS_AEAD_LEVEL_ALL) level = TS_AEAD_LEVEL_ALL;
  limited(level, cap);
  int changed = 1;
  if (level > TS_AEAD_LEVEL_SCALAR) {
    limited((enum ts_aead_level)(level - 1), below);
    changed = memcmp(cap, below, sizeof cap) != 0;
  }
  memcpy(ts_ossl_OPENSSL_ia32cap_P, cap, sizeof cap);
  return changed;
}

#elif TS_AEAD_ASM && defined(TS_AEAD_ARM64)

/* Advanced SIMD (NEON) is part of every AArch64 CPU the prebuilds target (Linux and macOS on arm64). */
#define TS_ARMV7_NEON 1u
__attribute__((visibility("hidden"))) unsigned int ts_ossl_OPENSSL_armcap_P;

static atomic_int cpu_ready;

void ts_aead_cpu_init(void) {
  if (atomic_load(&cpu_ready)) return;
  ts_ossl_OPENSSL_armcap_P = TS_ARMV7_NEON;
  atomic_store(&cpu_ready, 1);
}

int ts_aead_cpu_limit(enum ts_aead_level level) {
  ts_ossl_OPENSSL_armcap_P = level >= TS_AEAD_LEVEL_ALL ? TS_ARMV7_NEON : 0;
  return level == TS_AEAD_LEVEL_SCALAR || level >= TS_AEAD_LEVEL_ALL;
}

#else

void ts_aead_cpu_init(void) {}

int ts_aead_cpu_limit(enum ts_aead_level level) { return level == TS_AEAD_LEVEL_SCALAR; }

#endif
