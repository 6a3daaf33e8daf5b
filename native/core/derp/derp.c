/* DERP client protocol: frame codec, ClientInfo/ServerInfo boxes, HTTP upgrade helper and the client state
 * machine. See derp.h; described in docs/protocol/derp.md. */
#include "derp/derp.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "mem/pages.h"

const uint8_t ts_derp_magic[TS_DERP_MAGIC_LEN] = {0x44, 0x45, 0x52, 0x50, 0xF0, 0x9F, 0x94, 0x91};

const char *ts_derp_err_name(int err) {
  switch (err) {
  case TS_DERP_OK: return "ok";
  case TS_DERP_E_FRAME_TOO_BIG: return "frame too big";
  case TS_DERP_E_MALFORMED: return "malformed frame";
  case TS_DERP_E_PACKET_TOO_BIG: return "packet too big";
  case TS_DERP_E_BAD_MAGIC: return "bad ServerKey magic";
  case TS_DERP_E_BAD_KEY: return "unexpected or invalid server key";
  case TS_DERP_E_DECRYPT: return "ServerInfo did not decrypt";
  case TS_DERP_E_BAD_INFO: return "bad ServerInfo";
  case TS_DERP_E_UNEXPECTED: return "unexpected frame";
  case TS_DERP_E_TIMEOUT: return "timeout";
  case TS_DERP_E_HTTP: return "bad HTTP upgrade response";
  case TS_DERP_E_STATE: return "wrong state";
  case TS_DERP_E_AGAIN: return "output queue full";
  case TS_DERP_E_BUFFER: return "buffer too small";
  case TS_DERP_E_ARG: return "bad argument";
  case TS_DERP_E_NOMEM: return "out of memory";
  default: return "unknown error";
  }
}

static uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------- codec */

void ts_derp_put_header(uint8_t out[TS_DERP_HDR_LEN], uint8_t type, uint32_t len) {
  out[0] = type;
  put_be32(out + 1, len);
}

int ts_derp_get_header(const uint8_t in[TS_DERP_HDR_LEN], uint8_t *type, uint32_t *len) {
  *type = in[0];
  *len = get_be32(in + 1);
  return *len > TS_DERP_MAX_FRAME ? TS_DERP_E_FRAME_TOO_BIG : 0;
}

int ts_derp_frame_decode(ts_derp_frame *f, uint8_t type, const uint8_t *p, size_t len) {
  memset(f, 0, sizeof *f);
  f->type = type;
  if (len > TS_DERP_MAX_FRAME) return TS_DERP_E_FRAME_TOO_BIG;
  switch (type) {
  case TS_DERP_FRAME_SERVER_KEY:
    if (len < TS_DERP_MAGIC_LEN + TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    if (!ts_ct_equal(p, ts_derp_magic, TS_DERP_MAGIC_LEN)) return TS_DERP_E_BAD_MAGIC;
    memcpy(f->key, p + TS_DERP_MAGIC_LEN, TS_DERP_KEY_LEN);
    f->data = p + TS_DERP_MAGIC_LEN + TS_DERP_KEY_LEN;
    f->data_len = len - TS_DERP_MAGIC_LEN - TS_DERP_KEY_LEN;
    return 0;
  case TS_DERP_FRAME_CLIENT_INFO:
    if (len < TS_DERP_KEY_LEN + TS_DERP_NONCE_LEN + TS_DERP_BOX_OVERHEAD) return TS_DERP_E_MALFORMED;
    memcpy(f->key, p, TS_DERP_KEY_LEN);
    f->data = p + TS_DERP_KEY_LEN;
    f->data_len = len - TS_DERP_KEY_LEN;
    return 0;
  case TS_DERP_FRAME_SERVER_INFO:
    if (len < TS_DERP_NONCE_LEN + TS_DERP_BOX_OVERHEAD) return TS_DERP_E_MALFORMED;
    f->data = p, f->data_len = len;
    return 0;
  case TS_DERP_FRAME_SEND_PACKET:
  case TS_DERP_FRAME_RECV_PACKET:
    if (len < TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    if (len - TS_DERP_KEY_LEN > TS_DERP_MAX_PACKET) return TS_DERP_E_PACKET_TOO_BIG;
    memcpy(f->key, p, TS_DERP_KEY_LEN);
    f->data = p + TS_DERP_KEY_LEN, f->data_len = len - TS_DERP_KEY_LEN;
    return 0;
  case TS_DERP_FRAME_FORWARD_PACKET:
    if (len < 2 * TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    if (len - 2 * TS_DERP_KEY_LEN > TS_DERP_MAX_PACKET) return TS_DERP_E_PACKET_TOO_BIG;
    memcpy(f->key, p, TS_DERP_KEY_LEN);
    memcpy(f->key2, p + TS_DERP_KEY_LEN, TS_DERP_KEY_LEN);
    f->data = p + 2 * TS_DERP_KEY_LEN, f->data_len = len - 2 * TS_DERP_KEY_LEN;
    return 0;
  case TS_DERP_FRAME_NOTE_PREFERRED:
    if (len < 1) return TS_DERP_E_MALFORMED;
    f->preferred = p[0];
    return 0;
  case TS_DERP_FRAME_PEER_GONE:
    if (len < TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    memcpy(f->key, p, TS_DERP_KEY_LEN);
    if (len > TS_DERP_KEY_LEN) f->has_reason = 1, f->reason = p[TS_DERP_KEY_LEN];
    return 0;
  case TS_DERP_FRAME_PEER_PRESENT:
    if (len < TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    memcpy(f->key, p, TS_DERP_KEY_LEN);
    if (len >= TS_DERP_KEY_LEN + 18) {
      f->has_addr = 1;
      memcpy(f->ip, p + TS_DERP_KEY_LEN, 16);
      f->port = (uint16_t)(p[TS_DERP_KEY_LEN + 16] << 8 | p[TS_DERP_KEY_LEN + 17]);
    }
    if (len >= TS_DERP_KEY_LEN + 19) f->has_flags = 1, f->flags = p[TS_DERP_KEY_LEN + 18];
    return 0;
  case TS_DERP_FRAME_CLOSE_PEER:
    if (len < TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    memcpy(f->key, p, TS_DERP_KEY_LEN);
    return 0;
  case TS_DERP_FRAME_PING:
  case TS_DERP_FRAME_PONG:
    if (len < 8) return TS_DERP_E_MALFORMED;
    memcpy(f->ping, p, 8);
    return 0;
  case TS_DERP_FRAME_RESTARTING:
    if (len < 8) return TS_DERP_E_MALFORMED;
    f->reconnect_in_ms = get_be32(p);
    f->try_for_ms = get_be32(p + 4);
    return 0;
  case TS_DERP_FRAME_KEEP_ALIVE:
  case TS_DERP_FRAME_WATCH_CONNS:
  case TS_DERP_FRAME_HEALTH:
  default:
    f->data = p, f->data_len = len;
    return 0;
  }
}

long ts_derp_frame_size(const ts_derp_frame *f) {
  size_t n;
  switch (f->type) {
  case TS_DERP_FRAME_SERVER_KEY: n = TS_DERP_MAGIC_LEN + TS_DERP_KEY_LEN + f->data_len; break;
  case TS_DERP_FRAME_CLIENT_INFO: n = TS_DERP_KEY_LEN + f->data_len; break;
  case TS_DERP_FRAME_SEND_PACKET:
  case TS_DERP_FRAME_RECV_PACKET:
    if (f->data_len > TS_DERP_MAX_PACKET) return TS_DERP_E_PACKET_TOO_BIG;
    n = TS_DERP_KEY_LEN + f->data_len;
    break;
  case TS_DERP_FRAME_FORWARD_PACKET:
    if (f->data_len > TS_DERP_MAX_PACKET) return TS_DERP_E_PACKET_TOO_BIG;
    n = 2 * TS_DERP_KEY_LEN + f->data_len;
    break;
  case TS_DERP_FRAME_NOTE_PREFERRED: n = 1; break;
  case TS_DERP_FRAME_PEER_GONE: n = TS_DERP_KEY_LEN + (f->has_reason ? 1 : 0); break;
  case TS_DERP_FRAME_PEER_PRESENT:
    n = TS_DERP_KEY_LEN;
    if (f->has_addr || f->has_flags) n += 18; /* flags need the address before them */
    if (f->has_flags) n += 1;
    break;
  case TS_DERP_FRAME_CLOSE_PEER: n = TS_DERP_KEY_LEN; break;
  case TS_DERP_FRAME_PING:
  case TS_DERP_FRAME_PONG:
  case TS_DERP_FRAME_RESTARTING: n = 8; break;
  case TS_DERP_FRAME_KEEP_ALIVE:
  case TS_DERP_FRAME_WATCH_CONNS:
  case TS_DERP_FRAME_SERVER_INFO:
  case TS_DERP_FRAME_HEALTH:
  default: n = f->data_len; break;
  }
  if (n > TS_DERP_MAX_FRAME) return TS_DERP_E_FRAME_TOO_BIG;
  return (long)(n + TS_DERP_HDR_LEN);
}

long ts_derp_frame_encode(uint8_t *out, size_t cap, const ts_derp_frame *f) {
  long total = ts_derp_frame_size(f);
  if (total < 0) return total;
  if ((size_t)total > cap) return TS_DERP_E_BUFFER;
  ts_derp_put_header(out, f->type, (uint32_t)(total - TS_DERP_HDR_LEN));
  uint8_t *p = out + TS_DERP_HDR_LEN;
  switch (f->type) {
  case TS_DERP_FRAME_SERVER_KEY:
    memcpy(p, ts_derp_magic, TS_DERP_MAGIC_LEN);
    memcpy(p + TS_DERP_MAGIC_LEN, f->key, TS_DERP_KEY_LEN);
    if (f->data_len) memcpy(p + TS_DERP_MAGIC_LEN + TS_DERP_KEY_LEN, f->data, f->data_len);
    break;
  case TS_DERP_FRAME_CLIENT_INFO:
  case TS_DERP_FRAME_SEND_PACKET:
  case TS_DERP_FRAME_RECV_PACKET:
    memcpy(p, f->key, TS_DERP_KEY_LEN);
    if (f->data_len) memcpy(p + TS_DERP_KEY_LEN, f->data, f->data_len);
    break;
  case TS_DERP_FRAME_FORWARD_PACKET:
    memcpy(p, f->key, TS_DERP_KEY_LEN);
    memcpy(p + TS_DERP_KEY_LEN, f->key2, TS_DERP_KEY_LEN);
    if (f->data_len) memcpy(p + 2 * TS_DERP_KEY_LEN, f->data, f->data_len);
    break;
  case TS_DERP_FRAME_NOTE_PREFERRED: p[0] = f->preferred; break;
  case TS_DERP_FRAME_PEER_GONE:
    memcpy(p, f->key, TS_DERP_KEY_LEN);
    if (f->has_reason) p[TS_DERP_KEY_LEN] = f->reason;
    break;
  case TS_DERP_FRAME_PEER_PRESENT:
    memcpy(p, f->key, TS_DERP_KEY_LEN);
    if (f->has_addr || f->has_flags) {
      memcpy(p + TS_DERP_KEY_LEN, f->ip, 16);
      p[TS_DERP_KEY_LEN + 16] = (uint8_t)(f->port >> 8);
      p[TS_DERP_KEY_LEN + 17] = (uint8_t)f->port;
    }
    if (f->has_flags) p[TS_DERP_KEY_LEN + 18] = f->flags;
    break;
  case TS_DERP_FRAME_CLOSE_PEER: memcpy(p, f->key, TS_DERP_KEY_LEN); break;
  case TS_DERP_FRAME_PING:
  case TS_DERP_FRAME_PONG: memcpy(p, f->ping, 8); break;
  case TS_DERP_FRAME_RESTARTING:
    put_be32(p, f->reconnect_in_ms);
    put_be32(p + 4, f->try_for_ms);
    break;
  default:
    if (f->data_len) memcpy(p, f->data, f->data_len);
    break;
  }
  return total;
}

/* ---------------------------------------------------------------- info boxes */

long ts_derp_seal_info(uint8_t *out, size_t cap, const uint8_t *json, size_t json_len,
                       const uint8_t nonce[TS_DERP_NONCE_LEN], const uint8_t peer_pub[TS_DERP_KEY_LEN],
                       const uint8_t priv[TS_DERP_KEY_LEN]) {
  size_t need = TS_DERP_NONCE_LEN + TS_DERP_BOX_OVERHEAD + json_len;
  if (json_len > TS_DERP_MAX_FRAME) return TS_DERP_E_ARG;
  if (cap < need) return TS_DERP_E_BUFFER;
  if (nonce) memcpy(out, nonce, TS_DERP_NONCE_LEN);
  else ts_random(out, TS_DERP_NONCE_LEN);
  if (ts_box_seal(out + TS_DERP_NONCE_LEN, json, json_len, out, peer_pub, priv) != 0) return TS_DERP_E_BAD_KEY;
  return (long)need;
}

long ts_derp_open_info(uint8_t *out, size_t cap, const uint8_t *sealed, size_t sealed_len,
                       const uint8_t peer_pub[TS_DERP_KEY_LEN], const uint8_t priv[TS_DERP_KEY_LEN]) {
  if (sealed_len < TS_DERP_NONCE_LEN + TS_DERP_BOX_OVERHEAD) return TS_DERP_E_DECRYPT;
  size_t n = sealed_len - TS_DERP_NONCE_LEN - TS_DERP_BOX_OVERHEAD;
  if (cap < n) return TS_DERP_E_BUFFER;
  if (ts_box_open(out, sealed + TS_DERP_NONCE_LEN, sealed_len - TS_DERP_NONCE_LEN, sealed, peer_pub, priv) != 0)
    return TS_DERP_E_DECRYPT;
  return (long)n;
}

/* ---------------------------------------------------------------- minimal JSON (ServerInfo) */

typedef struct {
  const uint8_t *p, *end;
  int depth;
} jcur;

static void jws(jcur *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

/* Skips a string (j->p at the opening quote); on success s and n give the raw contents between the quotes. */
static int jstring(jcur *j, const uint8_t **s, size_t *n) {
  if (j->p >= j->end || *j->p != '"') return -1;
  const uint8_t *start = ++j->p;
  while (j->p < j->end) {
    uint8_t c = *j->p;
    if (c == '"') {
      if (s) *s = start, *n = (size_t)(j->p - start);
      j->p++;
      return 0;
    }
    if (c < 0x20) return -1;
    if (c == '\\') {
      if (j->end - j->p < 2) return -1;
      j->p += 2;
    } else {
      j->p++;
    }
  }
  return -1;
}

/* Parses a number; *out gets it when it is an integer within int64 range (else *is_int = 0). */
static int jnumber(jcur *j, int64_t *out, int *is_int) {
  const uint8_t *s = j->p;
  int neg = 0, digits = 0, ok = 1;
  uint64_t v = 0;
  if (j->p < j->end && *j->p == '-') neg = 1, j->p++;
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
    unsigned d = (unsigned)(*j->p - '0');
    if (v > (UINT64_MAX - d) / 10) ok = 0;
    else v = v * 10 + d;
    digits++, j->p++;
  }
  if (!digits) return -1;
  if (j->p < j->end && *j->p == '.') {
    ok = 0, j->p++;
    int fd = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++, fd++;
    if (!fd) return -1;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    ok = 0, j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    int ed = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++, ed++;
    if (!ed) return -1;
  }
  if (ok && v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) ok = 0;
  *is_int = ok;
  if (ok) *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  (void)s;
  return 0;
}

static int jlit(jcur *j, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) return -1;
  j->p += n;
  return 0;
}

static int jvalue(jcur *j);

static int jcontainer(jcur *j, uint8_t close, int object) {
  if (++j->depth > 32) return -1;
  j->p++; /* '{' or '[' */
  jws(j);
  if (j->p < j->end && *j->p == close) {
    j->p++, j->depth--;
    return 0;
  }
  for (;;) {
    jws(j);
    if (object) {
      if (jstring(j, NULL, NULL)) return -1;
      jws(j);
      if (j->p >= j->end || *j->p != ':') return -1;
      j->p++;
      jws(j);
    }
    if (jvalue(j)) return -1;
    jws(j);
    if (j->p >= j->end) return -1;
    if (*j->p == ',') {
      j->p++;
      continue;
    }
    if (*j->p == close) {
      j->p++, j->depth--;
      return 0;
    }
    return -1;
  }
}

static int jvalue(jcur *j) {
  jws(j);
  if (j->p >= j->end) return -1;
  switch (*j->p) {
  case '"': return jstring(j, NULL, NULL);
  case '{': return jcontainer(j, '}', 1);
  case '[': return jcontainer(j, ']', 0);
  case 't': return jlit(j, "true");
  case 'f': return jlit(j, "false");
  case 'n': return jlit(j, "null");
  default: {
    int64_t v;
    int is_int;
    return jnumber(j, &v, &is_int);
  }
  }
}

static int name_is(const uint8_t *s, size_t n, const char *want) {
  size_t w = strlen(want);
  if (n != w) return 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t a = s[i], b = (uint8_t)want[i];
    if (a >= 'A' && a <= 'Z') a = (uint8_t)(a + 32);
    if (b >= 'A' && b <= 'Z') b = (uint8_t)(b + 32);
    if (a != b) return 0;
  }
  return 1;
}

int ts_derp_parse_server_info(ts_derp_server_info *si, const uint8_t *json, size_t len) {
  memset(si, 0, sizeof *si);
  jcur j = {json, json + len, 0};
  jws(&j);
  if (j.p >= j.end || *j.p != '{') return TS_DERP_E_BAD_INFO;
  j.p++;
  jws(&j);
  if (j.p < j.end && *j.p == '}') {
    j.p++;
  } else {
    for (;;) {
      const uint8_t *name;
      size_t nlen;
      jws(&j);
      if (jstring(&j, &name, &nlen)) return TS_DERP_E_BAD_INFO;
      jws(&j);
      if (j.p >= j.end || *j.p != ':') return TS_DERP_E_BAD_INFO;
      j.p++;
      jws(&j);
      int64_t *dst = NULL;
      if (name_is(name, nlen, "version")) dst = &si->version;
      else if (name_is(name, nlen, "TokenBucketBytesPerSecond")) dst = &si->token_bucket_bytes_per_second;
      else if (name_is(name, nlen, "TokenBucketBytesBurst")) dst = &si->token_bucket_bytes_burst;
      if (dst && j.p < j.end && (*j.p == '-' || (*j.p >= '0' && *j.p <= '9'))) {
        int64_t v = 0;
        int is_int = 0;
        if (jnumber(&j, &v, &is_int) || !is_int) return TS_DERP_E_BAD_INFO;
        *dst = v;
      } else if (dst && jlit(&j, "null") == 0) {
        /* null leaves the zero value, as in Go */
      } else if (dst) {
        return TS_DERP_E_BAD_INFO;
      } else if (jvalue(&j)) {
        return TS_DERP_E_BAD_INFO;
      }
      jws(&j);
      if (j.p >= j.end) return TS_DERP_E_BAD_INFO;
      if (*j.p == ',') {
        j.p++;
        continue;
      }
      if (*j.p == '}') {
        j.p++;
        break;
      }
      return TS_DERP_E_BAD_INFO;
    }
  }
  jws(&j);
  return j.p == j.end ? 0 : TS_DERP_E_BAD_INFO;
}

/* ---------------------------------------------------------------- HTTP */

static int has_ctl(const char *s) {
  for (; *s; s++)
    if (*s == '\r' || *s == '\n') return 1;
  return 0;
}

long ts_derp_http_request(char *out, size_t cap, const char *host, const char *path, const char *ideal_node,
                          int fast_start) {
  if (!out || !host || !*host || has_ctl(host) || (ideal_node && has_ctl(ideal_node)) ||
      (path && (has_ctl(path) || path[0] != '/')))
    return TS_DERP_E_ARG;
  if (!path) path = "/derp";
  const char *parts[16];
  int np = 0;
  parts[np++] = "GET ";
  parts[np++] = path;
  parts[np++] = " HTTP/1.1\r\nHost: ";
  parts[np++] = host;
  parts[np++] = "\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n";
  if (ideal_node && *ideal_node) {
    parts[np++] = "Ideal-Node: ";
    parts[np++] = ideal_node;
    parts[np++] = "\r\n";
  }
  if (fast_start) parts[np++] = "Derp-Fast-Start: 1\r\n";
  parts[np++] = "\r\n";
  size_t n = 0;
  for (int i = 0; i < np; i++) {
    size_t l = strlen(parts[i]);
    if (l > cap || n > cap - l) return TS_DERP_E_BUFFER;
    memcpy(out + n, parts[i], l);
    n += l;
  }
  if (n < cap) out[n] = 0;
  return (long)n;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Case-insensitive compare of a header name/value token with trimmed whitespace. */
static int token_eq(const uint8_t *s, size_t n, const char *want) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  size_t w = strlen(want);
  if (n != w) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower(s[i]) != lower((uint8_t)want[i])) return 0;
  return 1;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

long ts_derp_http_parse_response(ts_derp_http_response *r, const uint8_t *buf, size_t len) {
  memset(r, 0, sizeof *r);
  size_t end = 0;
  size_t lim = len < TS_DERP_HTTP_MAX_HEADER ? len : TS_DERP_HTTP_MAX_HEADER;
  for (size_t i = 0; i + 3 < lim; i++) {
    if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
      end = i + 4;
      break;
    }
  }
  if (!end) return len >= TS_DERP_HTTP_MAX_HEADER ? TS_DERP_E_HTTP : 0;
  /* status line: HTTP/1.x SP 3DIGIT */
  if (end < 16 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ') return TS_DERP_E_HTTP;
  for (int i = 9; i < 12; i++)
    if (buf[i] < '0' || buf[i] > '9') return TS_DERP_E_HTTP;
  if (buf[12] != ' ' && buf[12] != '\r') return TS_DERP_E_HTTP;
  r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  size_t i = 0;
  while (i < end && buf[i] != '\n') i++;
  i++;
  while (i + 2 <= end) {
    size_t ls = i;
    while (i < end && buf[i] != '\n') i++;
    size_t le = i; /* at '\n' */
    i++;
    if (le > ls && buf[le - 1] == '\r') le--;
    if (le == ls) break; /* blank line */
    size_t colon = ls;
    while (colon < le && buf[colon] != ':') colon++;
    if (colon == le) return TS_DERP_E_HTTP;
    const uint8_t *name = buf + ls, *val = buf + colon + 1;
    size_t nlen = colon - ls, vlen = le - colon - 1;
    while (vlen && (*val == ' ' || *val == '\t')) val++, vlen--;
    while (vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t')) vlen--;
    if (token_eq(name, nlen, "Upgrade")) {
      if (token_eq(val, vlen, "DERP")) r->upgrade_derp = 1;
    } else if (token_eq(name, nlen, "Derp-Version")) {
      int v = 0;
      for (size_t k = 0; k < vlen && k < 6; k++) {
        if (val[k] < '0' || val[k] > '9') {
          v = 0;
          break;
        }
        v = v * 10 + (val[k] - '0');
      }
      r->derp_version = v;
    } else if (token_eq(name, nlen, "Derp-Public-Key")) {
      if (vlen == 2 * TS_DERP_KEY_LEN) {
        int ok = 1;
        for (size_t k = 0; k < TS_DERP_KEY_LEN; k++) {
          int hi = hexval(val[2 * k]), lo = hexval(val[2 * k + 1]);
          if (hi < 0 || lo < 0) {
            ok = 0;
            break;
          }
          r->public_key[k] = (uint8_t)(hi << 4 | lo);
        }
        r->has_public_key = ok;
        if (!ok) memset(r->public_key, 0, TS_DERP_KEY_LEN);
      }
    }
  }
  return (long)end;
}

/* ---------------------------------------------------------------- client */

struct ts_derp_client {
  uint8_t priv[TS_DERP_KEY_LEN];
  uint8_t pub[TS_DERP_KEY_LEN];
  uint8_t server_key[TS_DERP_KEY_LEN];
  int have_server_key, server_key_seen, fast_start, ack_pings;
  ts_derp_state state;
  int err;
  uint64_t read_timeout, hs_timeout, hs_deadline, last_rx;
  ts_derp_event_fn on_event;
  void *ctx;
  ts_derp_rng_fn rng;
  void *rng_ctx;

  /* HTTP head */
  uint8_t *http_buf;
  size_t http_len;
  ts_derp_http_response http;
  int http_parsed;

  /* frame reassembly */
  uint8_t hdr[TS_DERP_HDR_LEN];
  size_t hdr_have;
  int in_frame, dispatched;
  uint8_t ftype;
  uint32_t flen, fkeep, fgot;
  uint8_t *rx; /* TS_DERP_RX_CAP */

  /* output queue: bytes [out_off, out_off + out_len) of out */
  uint8_t *out;
  size_t out_cap, out_off, out_len;
  size_t out_hw; /* bytes of out ever written: what freeing wipes */

  /* our ping */
  uint8_t ping_data[8];
  uint64_t ping_sent;
  int ping_outstanding;

  ts_derp_server_info info;
  uint8_t health[TS_DERP_MAX_HEALTH];
  size_t health_len;
};

static void c_random(ts_derp_client *c, void *buf, size_t len) {
  if (c->rng) c->rng(c->rng_ctx, buf, len);
  else ts_random(buf, len);
}

static int fail(ts_derp_client *c, int err) {
  if (c->state != TS_DERP_ST_ERROR) {
    c->state = TS_DERP_ST_ERROR;
    c->err = err;
    ts_wipe(c->priv, sizeof c->priv);
  }
  return c->err;
}

/* Room for n more bytes at the tail; compacts when that makes room. */
static uint8_t *out_reserve(ts_derp_client *c, size_t n, size_t limit) {
  if (c->out_len + n > limit) return NULL;
  if (c->out_off + c->out_len + n > c->out_cap) {
    memmove(c->out, c->out + c->out_off, c->out_len);
    c->out_off = 0;
  }
  uint8_t *p = c->out + c->out_off + c->out_len;
  c->out_len += n;
  if (c->out_off + c->out_len > c->out_hw) c->out_hw = c->out_off + c->out_len;
  return p;
}

static int queue_frame(ts_derp_client *c, const ts_derp_frame *f, size_t limit) {
  long n = ts_derp_frame_size(f);
  if (n < 0) return (int)n;
  uint8_t *p = out_reserve(c, (size_t)n, limit);
  if (!p) return TS_DERP_E_AGAIN;
  long m = ts_derp_frame_encode(p, (size_t)n, f);
  (void)m;
  return 0;
}

static int queue_client_info(ts_derp_client *c) {
  const char *json = c->ack_pings ? TS_DERP_CLIENT_INFO_JSON : "{\"version\":2}";
  size_t jlen = strlen(json);
  uint8_t sealed[TS_DERP_NONCE_LEN + TS_DERP_BOX_OVERHEAD + 64];
  uint8_t nonce[TS_DERP_NONCE_LEN];
  c_random(c, nonce, sizeof nonce);
  long n = ts_derp_seal_info(sealed, sizeof sealed, (const uint8_t *)json, jlen, nonce, c->server_key, c->priv);
  if (n < 0) return fail(c, TS_DERP_E_BAD_KEY);
  ts_derp_frame f;
  memset(&f, 0, sizeof f);
  f.type = TS_DERP_FRAME_CLIENT_INFO;
  memcpy(f.key, c->pub, TS_DERP_KEY_LEN);
  f.data = sealed, f.data_len = (size_t)n;
  int r = queue_frame(c, &f, c->out_cap);
  ts_wipe(sealed, sizeof sealed);
  if (r) return fail(c, r);
  c->state = TS_DERP_ST_SERVER_INFO;
  return 0;
}

ts_derp_client *ts_derp_client_new(const ts_derp_client_config *cfg, uint64_t now) {
  if (!cfg || (cfg->fast_start && !cfg->has_server_key)) return NULL;
  ts_derp_client *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->out_cap = cfg->out_cap ? cfg->out_cap : 256 * 1024;
  if (c->out_cap < 128 * 1024) c->out_cap = 128 * 1024;
  /* Both sized for the worst case and mostly untouched while a relay is idle: kernel pages (mem/pages.h). */
  c->rx = ts_pages_alloc(TS_DERP_RX_CAP);
  c->out = ts_pages_alloc(c->out_cap);
  int http = cfg->expect_http && !cfg->fast_start;
  if (http) c->http_buf = malloc(TS_DERP_HTTP_MAX_HEADER);
  if (!c->rx || !c->out || (http && !c->http_buf)) {
    ts_derp_client_free(c);
    return NULL;
  }
  memcpy(c->priv, cfg->node_private, TS_DERP_KEY_LEN);
  ts_x25519_public(c->pub, c->priv);
  c->ack_pings = !cfg->can_ack_pings_off;
  c->on_event = cfg->on_event, c->ctx = cfg->ctx;
  c->rng = cfg->rng, c->rng_ctx = cfg->rng_ctx;
  c->read_timeout = cfg->read_timeout_ns ? cfg->read_timeout_ns : TS_DERP_READ_TIMEOUT;
  c->hs_timeout = cfg->handshake_timeout_ns ? cfg->handshake_timeout_ns : TS_DERP_HANDSHAKE_TIMEOUT;
  c->hs_deadline = now + c->hs_timeout;
  c->last_rx = now;
  if (cfg->has_server_key) {
    memcpy(c->server_key, cfg->server_key, TS_DERP_KEY_LEN);
    c->have_server_key = 1;
  }
  c->fast_start = cfg->fast_start;
  c->state = http ? TS_DERP_ST_HTTP : TS_DERP_ST_SERVER_KEY;
  if (c->fast_start) queue_client_info(c);
  return c;
}

void ts_derp_client_free(ts_derp_client *c) {
  if (!c) return;
  if (c->rx) ts_wipe(c->rx, TS_DERP_RX_CAP);
  if (c->out) ts_wipe(c->out, c->out_hw); /* beyond it the queue was never written */
  if (c->http_buf) ts_wipe(c->http_buf, TS_DERP_HTTP_MAX_HEADER);
  ts_pages_free(c->rx, TS_DERP_RX_CAP);
  ts_pages_free(c->out, c->out_cap);
  free(c->http_buf);
  ts_wipe(c, sizeof *c);
  free(c);
}

static void emit(ts_derp_client *c, ts_derp_event *ev) {
  if (c->on_event) c->on_event(c->ctx, ev);
}

/* How many payload bytes of a frame the client needs, or an error for lengths its type cannot have. */
static int frame_keep(ts_derp_client *c, uint8_t type, uint32_t len, uint32_t *keep) {
  (void)c;
  switch (type) {
  case TS_DERP_FRAME_SERVER_KEY:
    if (len < TS_DERP_MAGIC_LEN + TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    *keep = TS_DERP_MAGIC_LEN + TS_DERP_KEY_LEN;
    return 0;
  case TS_DERP_FRAME_SERVER_INFO:
    if (len < TS_DERP_NONCE_LEN + TS_DERP_BOX_OVERHEAD) return TS_DERP_E_MALFORMED;
    if (len > TS_DERP_NONCE_LEN + TS_DERP_BOX_OVERHEAD + TS_DERP_MAX_INFO) return TS_DERP_E_BAD_INFO;
    *keep = len;
    return 0;
  case TS_DERP_FRAME_RECV_PACKET:
    if (len < TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    if (len - TS_DERP_KEY_LEN > TS_DERP_MAX_PACKET) return TS_DERP_E_PACKET_TOO_BIG;
    *keep = len;
    return 0;
  case TS_DERP_FRAME_PEER_GONE:
    if (len < TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    *keep = len < TS_DERP_KEY_LEN + 1 ? len : TS_DERP_KEY_LEN + 1;
    return 0;
  case TS_DERP_FRAME_PEER_PRESENT:
    if (len < TS_DERP_KEY_LEN) return TS_DERP_E_MALFORMED;
    *keep = len < TS_DERP_KEY_LEN + 19 ? len : TS_DERP_KEY_LEN + 19;
    return 0;
  case TS_DERP_FRAME_PING:
  case TS_DERP_FRAME_PONG:
  case TS_DERP_FRAME_RESTARTING:
    if (len < 8) return TS_DERP_E_MALFORMED;
    *keep = 8;
    return 0;
  case TS_DERP_FRAME_HEALTH:
    *keep = len < TS_DERP_MAX_HEALTH ? len : TS_DERP_MAX_HEALTH;
    return 0;
  default: /* KeepAlive payload, frames for servers, unknown types: skipped */
    *keep = 0;
    return 0;
  }
}

static int on_server_key(ts_derp_client *c, const ts_derp_frame *f) {
  if (c->server_key_seen) return fail(c, TS_DERP_E_UNEXPECTED);
  c->server_key_seen = 1;
  if (c->have_server_key) {
    if (!ts_ct_equal(c->server_key, f->key, TS_DERP_KEY_LEN)) return fail(c, TS_DERP_E_BAD_KEY);
  } else {
    memcpy(c->server_key, f->key, TS_DERP_KEY_LEN);
    c->have_server_key = 1;
  }
  if (c->state == TS_DERP_ST_SERVER_KEY) return queue_client_info(c);
  return 0; /* fast start: ClientInfo already queued */
}

static int on_server_info(ts_derp_client *c, const ts_derp_frame *f) {
  uint8_t json[TS_DERP_MAX_INFO];
  long n = ts_derp_open_info(json, sizeof json, f->data, f->data_len, c->server_key, c->priv);
  if (n < 0) return fail(c, TS_DERP_E_DECRYPT);
  int r = ts_derp_parse_server_info(&c->info, json, (size_t)n);
  ts_wipe(json, (size_t)n);
  if (r) return fail(c, r);
  c->state = TS_DERP_ST_CONNECTED;
  ts_wipe(c->priv, sizeof c->priv); /* the node key is not needed after the handshake */
  ts_derp_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = TS_DERP_EV_CONNECTED;
  ev.key = c->server_key;
  ev.info = c->info;
  emit(c, &ev);
  return 0;
}

/* Handles one frame (payload truncated to its keep length; full_len is the length on the wire). */
static int dispatch(ts_derp_client *c, uint8_t type, const uint8_t *p, uint32_t keep, uint32_t full_len) {
  ts_derp_frame f;
  int r = ts_derp_frame_decode(&f, type, p, keep);
  if (r) return fail(c, r);
  ts_derp_event ev;
  memset(&ev, 0, sizeof ev);

  if (c->state == TS_DERP_ST_SERVER_KEY) {
    if (type == TS_DERP_FRAME_SERVER_KEY) return on_server_key(c, &f);
    return fail(c, TS_DERP_E_UNEXPECTED);
  }
  if (c->state == TS_DERP_ST_SERVER_INFO) {
    if (type == TS_DERP_FRAME_SERVER_KEY) return on_server_key(c, &f);
    if (type == TS_DERP_FRAME_SERVER_INFO) {
      if (!c->server_key_seen && !c->fast_start) return fail(c, TS_DERP_E_UNEXPECTED);
      return on_server_info(c, &f);
    }
    /* Anything else is handled as when connected: Tailscale's client treats the connection as open once
     * ClientInfo is written and takes ServerInfo whenever it comes, so a server may send frames before it. */
  }
  /* connected (or waiting for ServerInfo) */
  switch (type) {
  case TS_DERP_FRAME_RECV_PACKET:
    ev.type = TS_DERP_EV_RECV_PACKET;
    ev.key = f.key;
    ev.data = f.data, ev.len = f.data_len;
    emit(c, &ev);
    return 0;
  case TS_DERP_FRAME_KEEP_ALIVE:
    ev.type = TS_DERP_EV_KEEP_ALIVE;
    emit(c, &ev);
    return 0;
  case TS_DERP_FRAME_PEER_GONE:
    ev.type = TS_DERP_EV_PEER_GONE;
    ev.key = f.key;
    ev.reason = f.has_reason ? f.reason : TS_DERP_PEER_GONE_DISCONNECTED;
    emit(c, &ev);
    return 0;
  case TS_DERP_FRAME_PEER_PRESENT:
    ev.type = TS_DERP_EV_PEER_PRESENT;
    ev.key = f.key;
    ev.has_addr = f.has_addr;
    memcpy(ev.ip, f.ip, 16);
    ev.port = f.port;
    ev.flags = f.flags;
    emit(c, &ev);
    return 0;
  case TS_DERP_FRAME_PING:
    if (c->ack_pings) {
      ts_derp_frame pong;
      memset(&pong, 0, sizeof pong);
      pong.type = TS_DERP_FRAME_PONG;
      memcpy(pong.ping, f.ping, 8);
      (void)queue_frame(c, &pong, c->out_cap); /* a full queue drops the pong; the server copes */
    }
    ev.type = TS_DERP_EV_PING;
    memcpy(ev.ping, f.ping, 8);
    emit(c, &ev);
    return 0;
  case TS_DERP_FRAME_PONG:
    ev.type = TS_DERP_EV_PONG;
    memcpy(ev.ping, f.ping, 8);
    if (c->ping_outstanding && ts_ct_equal(f.ping, c->ping_data, 8)) {
      c->ping_outstanding = 0;
      ev.rtt_ns = c->last_rx - c->ping_sent;
    }
    emit(c, &ev);
    return 0;
  case TS_DERP_FRAME_HEALTH:
    memcpy(c->health, f.data, f.data_len);
    c->health_len = f.data_len;
    ev.type = TS_DERP_EV_HEALTH;
    ev.data = c->health, ev.len = c->health_len;
    ev.health_truncated = full_len > keep;
    emit(c, &ev);
    return 0;
  case TS_DERP_FRAME_RESTARTING:
    ev.type = TS_DERP_EV_RESTARTING;
    ev.reconnect_in_ms = f.reconnect_in_ms, ev.try_for_ms = f.try_for_ms;
    emit(c, &ev);
    return 0;
  default: /* ServerKey/ServerInfo again, frames meant for servers, unknown types: ignored */
    return 0;
  }
}

static int feed_frames(ts_derp_client *c, const uint8_t *buf, size_t len) {
  while (len > 0 && c->state != TS_DERP_ST_ERROR) {
    if (!c->in_frame) {
      if (c->hdr_have == 0 && len >= TS_DERP_HDR_LEN) {
        memcpy(c->hdr, buf, TS_DERP_HDR_LEN);
        buf += TS_DERP_HDR_LEN, len -= TS_DERP_HDR_LEN;
        c->hdr_have = TS_DERP_HDR_LEN;
      } else {
        size_t take = TS_DERP_HDR_LEN - c->hdr_have;
        if (take > len) take = len;
        memcpy(c->hdr + c->hdr_have, buf, take);
        c->hdr_have += take, buf += take, len -= take;
        if (c->hdr_have < TS_DERP_HDR_LEN) return 0;
      }
      c->hdr_have = 0;
      int r = ts_derp_get_header(c->hdr, &c->ftype, &c->flen);
      if (r) return fail(c, r);
      r = frame_keep(c, c->ftype, c->flen, &c->fkeep);
      if (r) return fail(c, r);
      c->in_frame = 1, c->fgot = 0, c->dispatched = 0;
      if (c->fkeep == 0) {
        c->dispatched = 1;
        if (dispatch(c, c->ftype, c->rx, 0, c->flen) < 0) return c->err;
      }
    } else if (!c->dispatched) {
      if (c->fgot == 0 && len >= c->fkeep) { /* whole needed part in this chunk: no copy */
        c->fgot = c->fkeep, c->dispatched = 1;
        const uint8_t *p = buf;
        buf += c->fkeep, len -= c->fkeep;
        if (dispatch(c, c->ftype, p, c->fkeep, c->flen) < 0) return c->err;
      } else {
        size_t take = c->fkeep - c->fgot;
        if (take > len) take = len;
        memcpy(c->rx + c->fgot, buf, take);
        c->fgot += (uint32_t)take, buf += take, len -= take;
        if (c->fgot == c->fkeep) {
          c->dispatched = 1;
          if (dispatch(c, c->ftype, c->rx, c->fkeep, c->flen) < 0) return c->err;
        }
      }
    } else {
      size_t skip = c->flen - c->fgot;
      if (skip > len) skip = len;
      c->fgot += (uint32_t)skip, buf += skip, len -= skip;
    }
    if (c->in_frame && c->dispatched && c->fgot == c->flen) c->in_frame = 0;
  }
  return c->state == TS_DERP_ST_ERROR ? c->err : 0;
}

int ts_derp_client_input(ts_derp_client *c, const uint8_t *buf, size_t len, uint64_t now) {
  if (c->state == TS_DERP_ST_ERROR) return c->err;
  if (len == 0) return 0;
  if (now > c->last_rx) c->last_rx = now;
  if (c->state == TS_DERP_ST_HTTP) {
    size_t prev = c->http_len;
    size_t take = TS_DERP_HTTP_MAX_HEADER - prev;
    if (take > len) take = len;
    memcpy(c->http_buf + prev, buf, take);
    c->http_len += take;
    long h = ts_derp_http_parse_response(&c->http, c->http_buf, c->http_len);
    if (h < 0) return fail(c, TS_DERP_E_HTTP);
    if (h == 0) return c->http_len >= TS_DERP_HTTP_MAX_HEADER ? fail(c, TS_DERP_E_HTTP) : 0;
    c->http_parsed = 1;
    if (c->http.status != 101 || !c->http.upgrade_derp) return fail(c, TS_DERP_E_HTTP);
    ts_wipe(c->http_buf, c->http_len);
    free(c->http_buf);
    c->http_buf = NULL;
    c->state = TS_DERP_ST_SERVER_KEY;
    size_t used = (size_t)h - prev; /* bytes of this chunk that belonged to the head */
    buf += used, len -= used;
  }
  return feed_frames(c, buf, len);
}

int ts_derp_client_tick(ts_derp_client *c, uint64_t now) {
  if (c->state == TS_DERP_ST_ERROR) return c->err;
  if (c->state != TS_DERP_ST_CONNECTED && now >= c->hs_deadline) return fail(c, TS_DERP_E_TIMEOUT);
  if (now >= c->last_rx && now - c->last_rx >= c->read_timeout) return fail(c, TS_DERP_E_TIMEOUT);
  return 0;
}

uint64_t ts_derp_client_next_deadline(const ts_derp_client *c) {
  if (c->state == TS_DERP_ST_ERROR) return UINT64_MAX;
  uint64_t d = c->last_rx + c->read_timeout;
  if (c->state != TS_DERP_ST_CONNECTED && c->hs_deadline < d) d = c->hs_deadline;
  return d;
}

const uint8_t *ts_derp_client_output(const ts_derp_client *c, size_t *n) {
  *n = c->out_len;
  return c->out_len ? c->out + c->out_off : NULL;
}

void ts_derp_client_output_consumed(ts_derp_client *c, size_t n) {
  if (n > c->out_len) n = c->out_len;
  c->out_off += n, c->out_len -= n;
  if (c->out_len == 0) c->out_off = 0;
}

size_t ts_derp_client_output_pending(const ts_derp_client *c) { return c->out_len; }

int ts_derp_client_send_packet(ts_derp_client *c, const uint8_t dst[TS_DERP_KEY_LEN], const uint8_t *pkt,
                               size_t len) {
  if (c->state != TS_DERP_ST_CONNECTED) return TS_DERP_E_STATE;
  if (len > TS_DERP_MAX_PACKET) return TS_DERP_E_PACKET_TOO_BIG;
  uint8_t *p = out_reserve(c, TS_DERP_HDR_LEN + TS_DERP_KEY_LEN + len, c->out_cap - TS_DERP_CTRL_RESERVE);
  if (!p) return TS_DERP_E_AGAIN;
  ts_derp_put_header(p, TS_DERP_FRAME_SEND_PACKET, (uint32_t)(TS_DERP_KEY_LEN + len));
  memcpy(p + TS_DERP_HDR_LEN, dst, TS_DERP_KEY_LEN);
  if (len) memcpy(p + TS_DERP_HDR_LEN + TS_DERP_KEY_LEN, pkt, len);
  return 0;
}

static int can_send_control(const ts_derp_client *c) {
  return c->state == TS_DERP_ST_SERVER_INFO || c->state == TS_DERP_ST_CONNECTED;
}

int ts_derp_client_note_preferred(ts_derp_client *c, int preferred) {
  if (!can_send_control(c)) return TS_DERP_E_STATE;
  ts_derp_frame f;
  memset(&f, 0, sizeof f);
  f.type = TS_DERP_FRAME_NOTE_PREFERRED;
  f.preferred = preferred ? 1 : 0;
  return queue_frame(c, &f, c->out_cap);
}

int ts_derp_client_send_ping(ts_derp_client *c, const uint8_t data[8], uint64_t now) {
  if (c->state != TS_DERP_ST_CONNECTED) return TS_DERP_E_STATE;
  ts_derp_frame f;
  memset(&f, 0, sizeof f);
  f.type = TS_DERP_FRAME_PING;
  if (data) memcpy(f.ping, data, 8);
  else c_random(c, f.ping, 8);
  int r = queue_frame(c, &f, c->out_cap);
  if (r) return r;
  memcpy(c->ping_data, f.ping, 8);
  c->ping_sent = now;
  c->ping_outstanding = 1;
  return 0;
}

int ts_derp_client_watch_conns(ts_derp_client *c) {
  if (c->state != TS_DERP_ST_CONNECTED) return TS_DERP_E_STATE;
  ts_derp_frame f;
  memset(&f, 0, sizeof f);
  f.type = TS_DERP_FRAME_WATCH_CONNS;
  return queue_frame(c, &f, c->out_cap);
}

int ts_derp_client_close_peer(ts_derp_client *c, const uint8_t key[TS_DERP_KEY_LEN]) {
  if (c->state != TS_DERP_ST_CONNECTED) return TS_DERP_E_STATE;
  ts_derp_frame f;
  memset(&f, 0, sizeof f);
  f.type = TS_DERP_FRAME_CLOSE_PEER;
  memcpy(f.key, key, TS_DERP_KEY_LEN);
  return queue_frame(c, &f, c->out_cap);
}

ts_derp_state ts_derp_client_state(const ts_derp_client *c) { return c->state; }
int ts_derp_client_error(const ts_derp_client *c) { return c->state == TS_DERP_ST_ERROR ? c->err : 0; }
const uint8_t *ts_derp_client_server_key(const ts_derp_client *c) {
  return c->have_server_key ? c->server_key : NULL;
}
const ts_derp_server_info *ts_derp_client_server_info(const ts_derp_client *c) {
  return c->state == TS_DERP_ST_CONNECTED ? &c->info : NULL;
}
const ts_derp_http_response *ts_derp_client_http_response(const ts_derp_client *c) {
  return c->http_parsed ? &c->http : NULL;
}
const uint8_t *ts_derp_client_health(const ts_derp_client *c, size_t *len) {
  *len = c->health_len;
  return c->health;
}
