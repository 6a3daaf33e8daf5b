/* libFuzzer target: the AllowedIPs trie and IP header parsing. The input is a script of inserts,
 * removals and lookups checked against a linear-scan longest-prefix reference; each lookup address is also
 * parsed as an IP packet header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wg/wg_allowedips.h"

#define N 64

typedef struct {
  uint8_t addr[16];
  unsigned cidr;
  int family;
  int owner; /* 0 = none */
} ref_t;

static int owners[5];

static int matches(const ref_t *r, int family, const uint8_t *a) {
  if (!r->owner || r->family != family) return 0;
  for (unsigned i = 0; i < r->cidr; i++) {
    unsigned s = 7 - i % 8;
    if (((r->addr[i / 8] >> s) & 1) != ((a[i / 8] >> s) & 1)) return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ref_t ref[N];
  memset(ref, 0, sizeof ref);
  ts_wg_allowedips t;
  ts_wg_aip_init(&t);
  size_t i = 0;
  while (i + 19 <= size) {
    uint8_t op = data[i], arg = data[i + 1];
    uint8_t a[16];
    memcpy(a, data + i + 2, 16);
    i += 18;
    int family = op & 1 ? 6 : 4;
    unsigned maxc = family == 4 ? 32 : 128;
    unsigned cidr = arg % (maxc + 1);
    int owner = 1 + (op >> 1) % 4;
    switch ((op >> 3) % 4) {
    case 0: { /* insert */
      uint8_t m[16] = {0};
      memcpy(m, a, 16);
      for (unsigned b = cidr; b < 128; b++) m[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
      int slot = -1;
      for (int j = 0; j < N; j++)
        if (ref[j].owner && ref[j].family == family && ref[j].cidr == cidr && !memcmp(ref[j].addr, m, 16)) slot = j;
      for (int j = 0; j < N && slot < 0; j++)
        if (!ref[j].owner) slot = j;
      if (slot < 0) break;
      if (ts_wg_aip_insert(&t, family, a, cidr, &owners[owner])) abort();
      memcpy(ref[slot].addr, m, 16);
      ref[slot].cidr = cidr, ref[slot].family = family, ref[slot].owner = owner;
      break;
    }
    case 1: { /* remove (maybe by the wrong owner) */
      uint8_t m[16] = {0};
      memcpy(m, a, 16);
      for (unsigned b = cidr; b < 128; b++) m[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
      int expect = 0;
      for (int j = 0; j < N; j++)
        if (ref[j].owner == owner && ref[j].family == family && ref[j].cidr == cidr && !memcmp(ref[j].addr, m, 16))
          ref[j].owner = 0, expect = 1;
      if (ts_wg_aip_remove(&t, family, a, cidr, &owners[owner]) != expect) abort();
      break;
    }
    case 2: /* remove an owner's prefixes */
      ts_wg_aip_remove_owner(&t, &owners[owner]);
      for (int j = 0; j < N; j++)
        if (ref[j].owner == owner) ref[j].owner = 0;
      break;
    default: break;
    }
    /* Every step: a lookup checked against the reference, and header parsing of the raw bytes. */
    int best = 0, best_c = -1;
    for (int j = 0; j < N; j++)
      if (matches(&ref[j], family, a) && (int)ref[j].cidr > best_c) best = ref[j].owner, best_c = (int)ref[j].cidr;
    if (ts_wg_aip_lookup(&t, family, a) != (best ? (void *)&owners[best] : NULL)) abort();
    const uint8_t *p;
    size_t plen = size - i;
    size_t l = ts_wg_ip_len(data + i, plen);
    if (l > plen) abort();
    if (ts_wg_ip_addr(data + i, plen, op & 2, &p) && (p < data + i || p + 4 > data + size)) abort();
  }
  size_t live = 0;
  for (int j = 0; j < N; j++) live += ref[j].owner != 0;
  if (t.count != live) abort();
  ts_wg_aip_free(&t);
  return 0;
}
