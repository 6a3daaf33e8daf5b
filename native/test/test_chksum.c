/* The 64-bit checksum routine (native/core/stack/chksum.c) against RFC 1071's worked example, a published
 * IPv4 header, and a byte-at-a-time reference sum over every length and alignment; then lwIP's own
 * inet_chksum_pbuf and ip_chksum_pseudo, which call it through LWIP_CHKSUM (lwipopts.h), over pbuf chains
 * split at odd offsets. */
#include <stdlib.h>
#include <string.h>

#include "chksum.h"
#include "lwip/inet_chksum.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "test.h"

/* RFC 1071's definition, a 16-bit big-endian word at a time: the folded sum as a number. */
static uint16_t ref_sum(const uint8_t *p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) s += (uint32_t)p[n - 1] << 8;
  while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
  return (uint16_t)s;
}

/* ts_chksum's result in memory order, read as a big-endian number (what ref_sum gives). */
static uint16_t as_be(uint16_t memory_order) {
  uint8_t b[2];
  memcpy(b, &memory_order, 2);
  return (uint16_t)(b[0] << 8 | b[1]);
}

static void test_rfc1071_example(void) {
  /* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
  const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK_EQ_INT(as_be(ts_chksum(d, sizeof d)), 0xddf2);
  CHECK_EQ_INT(ref_sum(d, sizeof d), 0xddf2);
}

static void test_ipv4_header(void) {
  /* A published IPv4 header (20 bytes, checksum b861 in place): the sum over it with the checksum is ffff,
   * and with the checksum zeroed it is ~b861. */
  uint8_t h[20];
  CHECK_EQ_INT(ts_hex(h, sizeof h, "45000073 00004000 4011b861 c0a80001 c0a800c7"), 20);
  CHECK_EQ_INT(as_be(ts_chksum(h, 20)), 0xffff);
  h[10] = h[11] = 0;
  CHECK_EQ_INT((uint16_t)~as_be(ts_chksum(h, 20)), 0xb861);
}

static void test_edges(void) {
  uint8_t z[64] = {0};
  CHECK_EQ_INT(ts_chksum(z, 0), 0);
  CHECK_EQ_INT(ts_chksum(z, -5), 0);
  CHECK_EQ_INT(ts_chksum(z, 64), 0);
  uint8_t one = 0xab;
  CHECK_EQ_INT(as_be(ts_chksum(&one, 1)), 0xab00);
  /* All 0xff bytes: the accumulators carry on every addition. */
  size_t n = 65535;
  uint8_t *f = malloc(n);
  CHECK(f != NULL);
  if (!f) return;
  memset(f, 0xff, n);
  for (size_t len = n - 9; len <= n; len++) CHECK_EQ_INT(as_be(ts_chksum(f, (int)len)), ref_sum(f, len));
  free(f);
}

static void test_every_length_and_alignment(void) {
  enum { MAX = 1600 };
  uint8_t *buf = malloc(MAX + 16);
  CHECK(buf != NULL);
  if (!buf) return;
  uint32_t x = 0x12345678;
  for (size_t i = 0; i < MAX + 16; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (uint8_t)(x >> 16);
  }
  int bad = 0;
  for (size_t off = 0; off < 16; off++)
    for (size_t len = 0; len <= MAX; len++)
      if (as_be(ts_chksum(buf + off, (int)len)) != ref_sum(buf + off, len)) bad++;
  CHECK_EQ_INT(bad, 0);
  free(buf);
}

static void test_through_lwip(void) {
  /* 1500 random bytes in a chain of pbufs of the given lengths: lwIP combines per-pbuf sums, byte-swapping
   * after odd-length pieces, so odd splits exercise the contract. */
  static const uint16_t splits[][4] = {{1500, 0, 0, 0}, {1, 1499, 0, 0}, {7, 13, 1480, 0}, {733, 1, 1, 765},
                                       {2, 999, 3, 496}};
  uint8_t data[1500];
  uint32_t x = 99;
  for (size_t i = 0; i < sizeof data; i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (uint8_t)(x >> 16);
  }
  /* The TCP pseudo-header of 10.0.0.1 -> 10.0.0.2, protocol 6, length 1500, then the data. */
  uint8_t pseudo[12 + 1500];
  CHECK_EQ_INT(ts_hex(pseudo, 12, "0a000001 0a000002 0006 05dc"), 12);
  memcpy(pseudo + 12, data, sizeof data);
  uint16_t want = (uint16_t)~ref_sum(data, sizeof data);
  uint16_t want_pseudo = (uint16_t)~ref_sum(pseudo, sizeof pseudo);
  ip_addr_t src, dst;
  IP_ADDR4(&src, 10, 0, 0, 1);
  IP_ADDR4(&dst, 10, 0, 0, 2);
  for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
    struct pbuf *head = NULL;
    size_t at = 0;
    for (int k = 0; k < 4 && splits[s][k]; k++) {
      struct pbuf *q = pbuf_alloc(PBUF_RAW, splits[s][k], PBUF_RAM);
      CHECK(q != NULL);
      if (!q) return;
      memcpy(q->payload, data + at, splits[s][k]);
      at += splits[s][k];
      if (head) pbuf_cat(head, q);
      else head = q;
    }
    CHECK_EQ_INT(at, sizeof data);
    CHECK_EQ_INT(as_be(inet_chksum_pbuf(head)), want);
    CHECK_EQ_INT(as_be(ip_chksum_pseudo(head, 6, (u16_t)sizeof data, &src, &dst)), want_pseudo);
    pbuf_free(head);
  }
}

int main(void) {
  lwip_init();
  RUN(test_rfc1071_example);
  RUN(test_ipv4_header);
  RUN(test_edges);
  RUN(test_every_length_and_alignment);
  RUN(test_through_lwip);
  TEST_MAIN_END();
}
