#include "derp/tls_record.h"

#include <sodium.h>
#include <string.h>

#include "crypto/crypto.h"

#define HS_NEW_SESSION_TICKET 4
#define HS_KEY_UPDATE 24
#define ALERT_CLOSE_NOTIFY 0

int ts_tls13_expand_label(uint8_t *out, size_t out_len, const uint8_t secret[32], const char *label,
                          const uint8_t *context, size_t context_len) {
  size_t label_len = strlen(label);
  if (out_len == 0 || out_len > 32 || label_len > 255 - 6 || context_len > 255) return -1;
  /* HkdfLabel (RFC 8446 §7.1), then HKDF-Expand's counter byte: out_len <= 32 is one block of SHA-256. */
  uint8_t info[2 + 1 + 255 + 1 + 255 + 1];
  size_t n = 0;
  info[n++] = (uint8_t)(out_len >> 8);
  info[n++] = (uint8_t)out_len;
  info[n++] = (uint8_t)(6 + label_len);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, label_len);
  n += label_len;
  info[n++] = (uint8_t)context_len;
  if (context_len) memcpy(info + n, context, context_len);
  n += context_len;
  info[n++] = 1;
  uint8_t t[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, secret, 32);
  crypto_auth_hmacsha256_update(&st, info, n);
  crypto_auth_hmacsha256_final(&st, t);
  memcpy(out, t, out_len);
  ts_wipe(t, sizeof t);
  ts_wipe(&st, sizeof st);
  return 0;
}

static void dir_keys(ts_tls_dir *d) {
  ts_tls13_expand_label(d->key, 32, d->secret, "key", NULL, 0);
  ts_tls13_expand_label(d->iv, 12, d->secret, "iv", NULL, 0);
  d->seq = 0;
}

/* RFC 8446 §7.2: the next generation of a direction's secret. */
static void dir_update(ts_tls_dir *d) {
  uint8_t next[32];
  ts_tls13_expand_label(next, 32, d->secret, "traffic upd", NULL, 0);
  memcpy(d->secret, next, 32);
  ts_wipe(next, sizeof next);
  dir_keys(d);
}

void ts_tls_rl_init(ts_tls_rl *rl, const uint8_t client_secret[32], const uint8_t server_secret[32]) {
  memset(rl, 0, sizeof *rl);
  memcpy(rl->wr.secret, client_secret, 32);
  memcpy(rl->rd.secret, server_secret, 32);
  dir_keys(&rl->wr);
  dir_keys(&rl->rd);
}

void ts_tls_rl_wipe(ts_tls_rl *rl) { ts_wipe(rl, sizeof *rl); }

long ts_tls_record_len(const uint8_t *buf, size_t len) {
  if (len < 1) return 0;
  if (buf[0] < TS_TLS_CT_CCS || buf[0] > TS_TLS_CT_APPDATA) return TS_TLS_E_RECORD;
  if (len < TS_TLS_HDR) return 0;
  size_t n = (size_t)buf[3] << 8 | buf[4];
  if (n > TS_TLS_MAX_CIPHER) return TS_TLS_E_RECORD;
  return len < TS_TLS_HDR + n ? 0 : (long)(TS_TLS_HDR + n);
}

/* RFC 8446 §5.3: the IV with the 64-bit sequence XORed into its last 8 bytes. */
static void nonce_of(const ts_tls_dir *d, uint64_t seq, uint8_t nonce[12]) {
  memcpy(nonce, d->iv, 12);
  for (int i = 0; i < 8; i++) nonce[4 + i] ^= (uint8_t)(seq >> (56 - 8 * i));
}

/* Opens rec (whole record) at seq into out (may be rec + TS_TLS_HDR): the inner type and plaintext length. */
static int open_rec(const ts_tls_dir *d, uint64_t seq, const uint8_t *rec, size_t rec_len, uint8_t *out,
                    uint8_t *type, size_t *pt_len) {
  if (rec_len < TS_TLS_HDR + 1 + 16 || rec_len > TS_TLS_MAX_RECORD) return TS_TLS_E_RECORD;
  if (rec[0] != TS_TLS_CT_APPDATA) return TS_TLS_E_PROTO; /* plaintext or change_cipher_spec after the handshake */
  uint8_t nonce[12];
  nonce_of(d, seq, nonce);
  if (ts_chacha_open(out, rec + TS_TLS_HDR, rec_len - TS_TLS_HDR, rec, TS_TLS_HDR, nonce, d->key) != 0)
    return TS_TLS_E_AUTH;
  size_t n = rec_len - TS_TLS_HDR - 16;
  while (n > 0 && out[n - 1] == 0) n--; /* zero padding (RFC 8446 §5.4) */
  if (n == 0) return TS_TLS_E_PROTO;      /* no content type */
  *type = out[n - 1];
  *pt_len = n - 1;
  return *pt_len > TS_TLS_MAX_PLAIN ? TS_TLS_E_RECORD : 0;
}

/* Walks the handshake messages of one record: all whole; KeyUpdate only last. Sets *key_update to -1 (none),
 * 0 or 1 (update_requested); nst_only rejects anything but NewSessionTicket. */
static int handshake_msgs(const uint8_t *p, size_t n, int nst_only, int *key_update) {
  *key_update = -1;
  if (n == 0) return TS_TLS_E_PROTO;
  size_t off = 0;
  while (off < n) {
    if (n - off < 4 || *key_update >= 0) return TS_TLS_E_PROTO;
    size_t mlen = (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 | p[off + 3];
    if (mlen > n - off - 4) return TS_TLS_E_PROTO; /* split across records: not supported */
    if (p[off] == HS_KEY_UPDATE && !nst_only) {
      if (mlen != 1 || p[off + 4] > 1) return TS_TLS_E_PROTO;
      *key_update = p[off + 4];
    } else if (p[off] != HS_NEW_SESSION_TICKET) {
      return TS_TLS_E_PROTO;
    }
    off += 4 + mlen;
  }
  return 0;
}

int ts_tls_rl_read(ts_tls_rl *rl, uint8_t *rec, size_t rec_len, uint8_t **data, size_t *len) {
  uint8_t type;
  size_t n;
  uint8_t *pt = rec + TS_TLS_HDR;
  int r = open_rec(&rl->rd, rl->rd.seq, rec, rec_len, pt, &type, &n);
  if (r != 0) return r;
  rl->rd.seq++;
  switch (type) {
    case TS_TLS_CT_APPDATA:
      *data = pt;
      *len = n;
      return TS_TLS_DATA;
    case TS_TLS_CT_ALERT:
      if (n != 2) return TS_TLS_E_PROTO;
      return pt[1] == ALERT_CLOSE_NOTIFY ? TS_TLS_CLOSE : TS_TLS_E_ALERT;
    case TS_TLS_CT_HANDSHAKE: {
      int ku;
      r = handshake_msgs(pt, n, 0, &ku);
      if (r != 0) return r;
      if (ku >= 0) {
        dir_update(&rl->rd);
        if (ku == 1) rl->send_key_update = 1;
      }
      return TS_TLS_NONE;
    }
    default:
      return TS_TLS_E_PROTO;
  }
}

/* Seals one record of inner type `type` from src (n <= TS_TLS_MAX_PLAIN) into dst (n + TS_TLS_OVERHEAD). */
static size_t seal_rec(ts_tls_dir *d, uint8_t *dst, uint8_t type, const uint8_t *src, size_t n) {
  size_t clen = n + 1 + 16;
  dst[0] = TS_TLS_CT_APPDATA;
  dst[1] = 3;
  dst[2] = 3;
  dst[3] = (uint8_t)(clen >> 8);
  dst[4] = (uint8_t)clen;
  if (n) memmove(dst + TS_TLS_HDR, src, n);
  dst[TS_TLS_HDR + n] = type;
  uint8_t nonce[12];
  nonce_of(d, d->seq, nonce);
  ts_chacha_seal(dst + TS_TLS_HDR, dst + TS_TLS_HDR, n + 1, dst, TS_TLS_HDR, nonce, d->key);
  d->seq++;
  return TS_TLS_HDR + clen;
}

size_t ts_tls_rl_write(ts_tls_rl *rl, uint8_t *dst, size_t cap, const uint8_t *src, size_t len, size_t max_plain,
                       size_t *consumed) {
  size_t out = 0;
  *consumed = 0;
  if (rl->send_key_update) {
    static const uint8_t ku[5] = {HS_KEY_UPDATE, 0, 0, 1, 0}; /* update_not_requested */
    if (cap < sizeof ku + TS_TLS_OVERHEAD) return 0;
    out += seal_rec(&rl->wr, dst, TS_TLS_CT_HANDSHAKE, ku, sizeof ku);
    dir_update(&rl->wr);
    rl->send_key_update = 0;
  }
  if (max_plain == 0 || max_plain > TS_TLS_MAX_PLAIN) max_plain = TS_TLS_MAX_PLAIN;
  while (*consumed < len) {
    size_t n = len - *consumed < max_plain ? len - *consumed : max_plain;
    if (cap - out <= TS_TLS_OVERHEAD) break;
    if (cap - out < n + TS_TLS_OVERHEAD) n = cap - out - TS_TLS_OVERHEAD; /* a shorter last record */
    out += seal_rec(&rl->wr, dst + out, TS_TLS_CT_APPDATA, src + *consumed, n);
    *consumed += n;
  }
  return out;
}

int ts_tls_rl_sync_read(ts_tls_rl *rl, const uint8_t *recs, size_t len, uint8_t *scratch) {
  int started = 0;
  size_t off = 0;
  while (off < len) {
    long rlen = ts_tls_record_len(recs + off, len - off);
    if (rlen <= 0) return TS_TLS_E_RECORD;
    const uint8_t *rec = recs + off;
    off += (size_t)rlen;
    if (rec[0] != TS_TLS_CT_APPDATA) {
      if (started) return TS_TLS_E_PROTO;
      continue; /* ServerHello, change_cipher_spec */
    }
    uint8_t type;
    size_t n;
    int r = open_rec(&rl->rd, rl->rd.seq, rec, (size_t)rlen, scratch, &type, &n);
    if (r == TS_TLS_E_AUTH && !started) continue; /* a handshake-epoch record */
    if (r != 0) return r;
    started = 1;
    int ku;
    if (type != TS_TLS_CT_HANDSHAKE || handshake_msgs(scratch, n, 1, &ku) != 0) return TS_TLS_E_PROTO;
    rl->rd.seq++;
  }
  return 0;
}

int ts_tls_rl_sync_write(const ts_tls_rl *rl, const uint8_t *recs, size_t len, uint8_t *scratch) {
  size_t off = 0;
  while (off < len) {
    long rlen = ts_tls_record_len(recs + off, len - off);
    if (rlen <= 0) return TS_TLS_E_RECORD;
    const uint8_t *rec = recs + off;
    off += (size_t)rlen;
    uint8_t type;
    size_t n;
    if (rec[0] == TS_TLS_CT_APPDATA && open_rec(&rl->wr, 0, rec, (size_t)rlen, scratch, &type, &n) == 0)
      return TS_TLS_E_PROTO;
  }
  return 0;
}
