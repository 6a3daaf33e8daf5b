/* The core's address type: see addr.h. inet_pton/inet_ntop are plain string conversions from the C library
 * (no socket is involved), so this file belongs to the protocol library. */
#include "net/addr.h"

#include "port/sock.h" /* inet_pton, inet_ntop */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void ts_addr_set(ts_addr *a, int family, const uint8_t *ip, uint16_t port) {
  memset(a, 0, sizeof *a);
  a->port = port;
  if (family == TS_ADDR_V4) {
    a->family = TS_ADDR_V4;
    memcpy(a->ip, ip, 4);
  } else if (family == TS_ADDR_V6 && memcmp(ip, v4mapped_prefix, 12) == 0) {
    a->family = TS_ADDR_V4;
    memcpy(a->ip, ip + 12, 4);
  } else if (family == TS_ADDR_V6) {
    a->family = TS_ADDR_V6;
    memcpy(a->ip, ip, 16);
  }
}

int ts_addr_parse(ts_addr *a, const char *ip, uint16_t port) {
  uint8_t raw[16];
  memset(a, 0, sizeof *a);
  if (ip == NULL) return -EINVAL;
  if (inet_pton(AF_INET, ip, raw) == 1) {
    ts_addr_set(a, TS_ADDR_V4, raw, port);
    return 0;
  }
  if (inet_pton(AF_INET6, ip, raw) == 1) {
    ts_addr_set(a, TS_ADDR_V6, raw, port);
    return 0;
  }
  return -EINVAL;
}

int ts_addr_format(const ts_addr *a, char *buf, size_t cap) {
  char ip[INET6_ADDRSTRLEN];
  if (a->family == TS_ADDR_V4 && inet_ntop(AF_INET, a->ip, ip, sizeof ip))
    return snprintf(buf, cap, "%s:%u", ip, (unsigned)a->port);
  if (a->family == TS_ADDR_V6 && inet_ntop(AF_INET6, a->ip, ip, sizeof ip)) {
    if (a->scope_id) return snprintf(buf, cap, "[%s%%%u]:%u", ip, (unsigned)a->scope_id, (unsigned)a->port);
    return snprintf(buf, cap, "[%s]:%u", ip, (unsigned)a->port);
  }
  return snprintf(buf, cap, "(none)");
}

int ts_addr_equal(const ts_addr *a, const ts_addr *b) { return memcmp(a, b, sizeof *a) == 0; }
