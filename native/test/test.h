/* A minimal test harness for the C core: each test binary ends with the line "N passed, N failed". */
#ifndef TS_TEST_H
#define TS_TEST_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct { int passed, failed, cur_failed; const char *cur; } ts_test_state;
static ts_test_state ts_t;

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "  FAIL %s: %s:%d: %s\n", ts_t.cur, __FILE__, __LINE__, #cond);    \
      ts_t.cur_failed = 1;                                                               \
    }                                                                                    \
  } while (0)
#define CHECK_EQ_INT(a, b)                                                               \
  do {                                                                                   \
    long long _a = (long long)(a), _b = (long long)(b);                                  \
    if (_a != _b) {                                                                      \
      fprintf(stderr, "  FAIL %s: %s:%d: %s == %s (%lld != %lld)\n", ts_t.cur, __FILE__, \
              __LINE__, #a, #b, _a, _b);                                                 \
      ts_t.cur_failed = 1;                                                               \
    }                                                                                    \
  } while (0)
#define CHECK_MEM(a, b, n)                                                               \
  do {                                                                                   \
    if (memcmp((a), (b), (n)) != 0) {                                                    \
      fprintf(stderr, "  FAIL %s: %s:%d: memcmp(%s, %s, %s)\n", ts_t.cur, __FILE__,      \
              __LINE__, #a, #b, #n);                                                     \
      ts_t.cur_failed = 1;                                                               \
    }                                                                                    \
  } while (0)

#define RUN(fn)                                                                          \
  do {                                                                                   \
    ts_t.cur = #fn;                                                                      \
    ts_t.cur_failed = 0;                                                                 \
    fn();                                                                                \
    if (ts_t.cur_failed) {                                                               \
      ts_t.failed++;                                                                     \
      printf("not ok %s\n", #fn);                                                        \
    } else {                                                                             \
      ts_t.passed++;                                                                     \
      printf("ok %s\n", #fn);                                                            \
    }                                                                                    \
  } while (0)

#define TEST_MAIN_END()                                                                  \
  do {                                                                                   \
    printf("%d passed, %d failed\n", ts_t.passed, ts_t.failed);                          \
    return ts_t.failed ? 1 : 0;                                                          \
  } while (0)

/* Decodes a hex string (whitespace ignored) into out; returns the byte count. */
static inline size_t ts_hex(uint8_t *out, size_t cap, const char *hex) {
  size_t n = 0;
  int hi = -1;
  for (; *hex; hex++) {
    char c = *hex;
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (hi < 0) hi = v;
    else {
      if (n < cap) out[n] = (uint8_t)(hi << 4 | v);
      n++;
      hi = -1;
    }
  }
  return n;
}
#endif
