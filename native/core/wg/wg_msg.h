/* WireGuard message codec: the fixed wire layouts of the four message types (whitepaper section 5.4) and
 * TAI64N timestamps. Pure functions over caller buffers; nothing here allocates or keeps state. */
#ifndef TS_WG_MSG_H
#define TS_WG_MSG_H

#include <stddef.h>
#include <stdint.h>

enum {
  TS_WG_MSG_INITIATION = 1,
  TS_WG_MSG_RESPONSE = 2,
  TS_WG_MSG_COOKIE = 3,
  TS_WG_MSG_DATA = 4,
};

#define TS_WG_INITIATION_LEN 148
#define TS_WG_RESPONSE_LEN 92
#define TS_WG_COOKIE_LEN 64
#define TS_WG_DATA_HEADER_LEN 16
#define TS_WG_DATA_MIN_LEN 32 /* header + Poly1305 tag: a keepalive */
#define TS_WG_TAI64N_LEN 12
#define TS_WG_MAC_LEN 16

/* Offsets of mac1 and mac2 inside handshake messages: mac1 covers [0, mac1), mac2 covers [0, mac2). */
#define TS_WG_INITIATION_MAC1_OFF 116
#define TS_WG_RESPONSE_MAC1_OFF 60

typedef struct ts_wg_msg_initiation {
  uint32_t sender;
  uint8_t ephemeral[32];
  uint8_t enc_static[32 + 16];
  uint8_t enc_timestamp[TS_WG_TAI64N_LEN + 16];
  uint8_t mac1[16];
  uint8_t mac2[16];
} ts_wg_msg_initiation;

typedef struct ts_wg_msg_response {
  uint32_t sender;
  uint32_t receiver;
  uint8_t ephemeral[32];
  uint8_t enc_empty[16];
  uint8_t mac1[16];
  uint8_t mac2[16];
} ts_wg_msg_response;

typedef struct ts_wg_msg_cookie {
  uint32_t receiver;
  uint8_t nonce[24];
  uint8_t enc_cookie[16 + 16];
} ts_wg_msg_cookie;

/* The message type of a datagram, or 0 when it is none of the four (short, unknown type, nonzero reserved
 * bytes, or a length that does not fit the type). Data messages need only be at least 32 bytes: the
 * padding of the plaintext is the sender's choice, so the length is not checked further here. */
int ts_wg_msg_classify(const uint8_t *buf, size_t len);

/* Parse/serialise. Parsers assume ts_wg_msg_classify already accepted the buffer. */
void ts_wg_msg_initiation_parse(ts_wg_msg_initiation *m, const uint8_t buf[TS_WG_INITIATION_LEN]);
void ts_wg_msg_initiation_write(uint8_t buf[TS_WG_INITIATION_LEN], const ts_wg_msg_initiation *m);
void ts_wg_msg_response_parse(ts_wg_msg_response *m, const uint8_t buf[TS_WG_RESPONSE_LEN]);
void ts_wg_msg_response_write(uint8_t buf[TS_WG_RESPONSE_LEN], const ts_wg_msg_response *m);
void ts_wg_msg_cookie_parse(ts_wg_msg_cookie *m, const uint8_t buf[TS_WG_COOKIE_LEN]);
void ts_wg_msg_cookie_write(uint8_t buf[TS_WG_COOKIE_LEN], const ts_wg_msg_cookie *m);

/* Data header: type 4, receiver index, 64-bit little-endian counter. */
void ts_wg_msg_data_header_write(uint8_t buf[TS_WG_DATA_HEADER_LEN], uint32_t receiver, uint64_t counter);
uint32_t ts_wg_msg_data_receiver(const uint8_t buf[TS_WG_DATA_HEADER_LEN]);
uint64_t ts_wg_msg_data_counter(const uint8_t buf[TS_WG_DATA_HEADER_LEN]);

/* TAI64N of a Unix wall-clock time in ns. The nanoseconds are rounded down to a multiple of 2^24 so an
 * initiation does not reveal the sender's clock precisely (the peer only needs monotonicity). */
void ts_wg_tai64n(uint8_t out[TS_WG_TAI64N_LEN], uint64_t unix_ns);

static inline uint32_t ts_wg_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void ts_wg_put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static inline uint64_t ts_wg_le64(const uint8_t *p) {
  return (uint64_t)ts_wg_le32(p) | (uint64_t)ts_wg_le32(p + 4) << 32;
}
static inline void ts_wg_put_le64(uint8_t *p, uint64_t v) {
  ts_wg_put_le32(p, (uint32_t)v);
  ts_wg_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
