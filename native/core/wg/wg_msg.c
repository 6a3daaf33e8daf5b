/* WireGuard message codec (layouts from the whitepaper, section 5.4). */
#include "wg_msg.h"

#include <string.h>

int ts_wg_msg_classify(const uint8_t *buf, size_t len) {
  if (len < 4) return 0;
  /* The type is a little-endian u32: the three bytes after the type byte are reserved zeros. */
  if (buf[1] | buf[2] | buf[3]) return 0;
  switch (buf[0]) {
  case TS_WG_MSG_INITIATION: return len == TS_WG_INITIATION_LEN ? TS_WG_MSG_INITIATION : 0;
  case TS_WG_MSG_RESPONSE: return len == TS_WG_RESPONSE_LEN ? TS_WG_MSG_RESPONSE : 0;
  case TS_WG_MSG_COOKIE: return len == TS_WG_COOKIE_LEN ? TS_WG_MSG_COOKIE : 0;
  case TS_WG_MSG_DATA: return len >= TS_WG_DATA_MIN_LEN ? TS_WG_MSG_DATA : 0;
  default: return 0;
  }
}

static void put_type(uint8_t *buf, uint8_t type) {
  buf[0] = type;
  buf[1] = buf[2] = buf[3] = 0;
}

void ts_wg_msg_initiation_parse(ts_wg_msg_initiation *m, const uint8_t buf[TS_WG_INITIATION_LEN]) {
  m->sender = ts_wg_le32(buf + 4);
  memcpy(m->ephemeral, buf + 8, 32);
  memcpy(m->enc_static, buf + 40, 48);
  memcpy(m->enc_timestamp, buf + 88, 28);
  memcpy(m->mac1, buf + 116, 16);
  memcpy(m->mac2, buf + 132, 16);
}

void ts_wg_msg_initiation_write(uint8_t buf[TS_WG_INITIATION_LEN], const ts_wg_msg_initiation *m) {
  put_type(buf, TS_WG_MSG_INITIATION);
  ts_wg_put_le32(buf + 4, m->sender);
  memcpy(buf + 8, m->ephemeral, 32);
  memcpy(buf + 40, m->enc_static, 48);
  memcpy(buf + 88, m->enc_timestamp, 28);
  memcpy(buf + 116, m->mac1, 16);
  memcpy(buf + 132, m->mac2, 16);
}

void ts_wg_msg_response_parse(ts_wg_msg_response *m, const uint8_t buf[TS_WG_RESPONSE_LEN]) {
  m->sender = ts_wg_le32(buf + 4);
  m->receiver = ts_wg_le32(buf + 8);
  memcpy(m->ephemeral, buf + 12, 32);
  memcpy(m->enc_empty, buf + 44, 16);
  memcpy(m->mac1, buf + 60, 16);
  memcpy(m->mac2, buf + 76, 16);
}

void ts_wg_msg_response_write(uint8_t buf[TS_WG_RESPONSE_LEN], const ts_wg_msg_response *m) {
  put_type(buf, TS_WG_MSG_RESPONSE);
  ts_wg_put_le32(buf + 4, m->sender);
  ts_wg_put_le32(buf + 8, m->receiver);
  memcpy(buf + 12, m->ephemeral, 32);
  memcpy(buf + 44, m->enc_empty, 16);
  memcpy(buf + 60, m->mac1, 16);
  memcpy(buf + 76, m->mac2, 16);
}

void ts_wg_msg_cookie_parse(ts_wg_msg_cookie *m, const uint8_t buf[TS_WG_COOKIE_LEN]) {
  m->receiver = ts_wg_le32(buf + 4);
  memcpy(m->nonce, buf + 8, 24);
  memcpy(m->enc_cookie, buf + 32, 32);
}

void ts_wg_msg_cookie_write(uint8_t buf[TS_WG_COOKIE_LEN], const ts_wg_msg_cookie *m) {
  put_type(buf, TS_WG_MSG_COOKIE);
  ts_wg_put_le32(buf + 4, m->receiver);
  memcpy(buf + 8, m->nonce, 24);
  memcpy(buf + 32, m->enc_cookie, 32);
}

void ts_wg_msg_data_header_write(uint8_t buf[TS_WG_DATA_HEADER_LEN], uint32_t receiver, uint64_t counter) {
  put_type(buf, TS_WG_MSG_DATA);
  ts_wg_put_le32(buf + 4, receiver);
  ts_wg_put_le64(buf + 8, counter);
}

uint32_t ts_wg_msg_data_receiver(const uint8_t buf[TS_WG_DATA_HEADER_LEN]) { return ts_wg_le32(buf + 4); }
uint64_t ts_wg_msg_data_counter(const uint8_t buf[TS_WG_DATA_HEADER_LEN]) { return ts_wg_le64(buf + 8); }

void ts_wg_tai64n(uint8_t out[TS_WG_TAI64N_LEN], uint64_t unix_ns) {
  uint64_t secs = (1ULL << 62) + unix_ns / 1000000000ULL;
  uint32_t nanos = (uint32_t)(unix_ns % 1000000000ULL) & ~(uint32_t)0xFFFFFF;
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(secs >> (56 - 8 * i));
  for (int i = 0; i < 4; i++) out[8 + i] = (uint8_t)(nanos >> (24 - 8 * i));
}
