/* The TLS 1.3 record layer of a DERP connection after the handshake (docs/architecture.md, "DERP relays": the
 * engine's TLS record layer), client side, TLS_CHACHA20_POLY1305_SHA256 only (RFC 8446 §5, §7). Node's tls does
 * the handshake; the engine takes over with the two application traffic secrets (CLIENT_TRAFFIC_SECRET_0,
 * SERVER_TRAFFIC_SECRET_0) and from then on seals and opens records itself. Sans-I/O: whole records in,
 * records out.
 *
 * Handled after the handshake: application data, NewSessionTicket (ignored), KeyUpdate (read key updated; if
 * the peer asks, our own KeyUpdate is sealed before the next data and the write key updated), close_notify (a
 * clean end). Anything else (another alert, a failed tag, a bad length, a handshake message split across
 * records, change_cipher_spec) is an error: the connection ends. */
#ifndef TS_DERP_TLS_RECORD_H
#define TS_DERP_TLS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define TS_TLS_HDR 5
#define TS_TLS_MAX_PLAIN 16384u                        /* 2^14 */
#define TS_TLS_MAX_CIPHER (TS_TLS_MAX_PLAIN + 256u)    /* RFC 8446 §5.2 */
#define TS_TLS_MAX_RECORD (TS_TLS_HDR + TS_TLS_MAX_CIPHER)
#define TS_TLS_OVERHEAD (TS_TLS_HDR + 1u + 16u)        /* header, inner content type, tag */

/* Record content types. */
#define TS_TLS_CT_CCS 20
#define TS_TLS_CT_ALERT 21
#define TS_TLS_CT_HANDSHAKE 22
#define TS_TLS_CT_APPDATA 23

/* ts_tls_rl_read results (>= 0) and errors (< 0). */
#define TS_TLS_NONE 0      /* a handshake message consumed: nothing for the caller */
#define TS_TLS_DATA 1      /* application data in *data, *len */
#define TS_TLS_CLOSE 2     /* close_notify: the peer ended cleanly */
#define TS_TLS_E_RECORD -1 /* bad header or length */
#define TS_TLS_E_AUTH -2   /* tag did not verify (tampered, wrong key or sequence) */
#define TS_TLS_E_ALERT -3  /* an alert other than close_notify */
#define TS_TLS_E_PROTO -4  /* unexpected content: CCS, unknown handshake message, split message, no type */

/* One direction's keys. seq is the next record's sequence number. */
typedef struct ts_tls_dir {
  uint8_t secret[32];
  uint8_t key[32];
  uint8_t iv[12];
  uint64_t seq;
} ts_tls_dir;

typedef struct ts_tls_rl {
  ts_tls_dir rd; /* the server's records */
  ts_tls_dir wr; /* ours */
  int send_key_update; /* the peer asked for our KeyUpdate: ts_tls_rl_write seals it first */
} ts_tls_rl;

/* HKDF-Expand-Label(secret, label, context, out_len) with SHA-256 (RFC 8446 §7.1), out_len <= 32,
 * label without the "tls13 " prefix. 0, or -1 for bad lengths. */
int ts_tls13_expand_label(uint8_t *out, size_t out_len, const uint8_t secret[32], const char *label,
                          const uint8_t *context, size_t context_len);

/* Keys from the two application traffic secrets (32 bytes each, SHA-256 suites); sequences start at 0. */
void ts_tls_rl_init(ts_tls_rl *rl, const uint8_t client_secret[32], const uint8_t server_secret[32]);
/* Wipes every secret and key. */
void ts_tls_rl_wipe(ts_tls_rl *rl);

/* The length of the whole record at the start of buf (header included): 0 if buf holds less than a whole
 * record, TS_TLS_E_RECORD for an unknown content type or a length over TS_TLS_MAX_CIPHER. */
long ts_tls_record_len(const uint8_t *buf, size_t len);

/* Opens one whole protected record in place (rec, rec_len from ts_tls_record_len) and handles it. On
 * TS_TLS_DATA, *data and *len point into rec. */
int ts_tls_rl_read(ts_tls_rl *rl, uint8_t *rec, size_t rec_len, uint8_t **data, size_t *len);

/* Seals src as application data records of at most max_plain (<= TS_TLS_MAX_PLAIN) bytes each into dst (cap
 * bytes), after a pending KeyUpdate; the last record is cut short to fit. Returns the bytes written;
 * *consumed gets the bytes of src sealed (the rest stays for the next call). */
size_t ts_tls_rl_write(ts_tls_rl *rl, uint8_t *dst, size_t cap, const uint8_t *src, size_t len, size_t max_plain,
                       size_t *consumed);

/* Takeover (docs/architecture.md, "DERP relays"): recs holds copies of the server's records that went to the
 * handshake (whole records, in order). Records the application key does not open at sequence 0 are the
 * handshake's; from the first that opens, each must open at the next sequence and hold only NewSessionTicket
 * messages. Sets the read sequence after them. scratch: TS_TLS_MAX_RECORD bytes. 0 or a TS_TLS_E_ code. */
int ts_tls_rl_sync_read(ts_tls_rl *rl, const uint8_t *recs, size_t len, uint8_t *scratch);
/* The same for the client's records that went to the server: none may open under our application key (the
 * handshake sends no application record; the engine writes the first). 0 or TS_TLS_E_PROTO. */
int ts_tls_rl_sync_write(const ts_tls_rl *rl, const uint8_t *recs, size_t len, uint8_t *scratch);

#endif
