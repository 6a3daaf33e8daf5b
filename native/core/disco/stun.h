/* STUN (RFC 5389) as Tailscale's netcheck uses it (docs/protocol/magicsock.md §4): a Binding request builder, a
 * Binding response parser, and the demux test for the shared UDP socket. Pure functions.
 *
 * Request (40 bytes): header (type 0x0001, length 20, magic cookie 21 12 A4 42, transaction id[12]),
 * SOFTWARE (0x8022) "tailnode", FINGERPRINT (0x8028) = CRC-32 of everything before it ^ 0x5354554E.
 * Response: Binding success (0x0101) with XOR-MAPPED-ADDRESS (0x0020, or the pre-RFC 0x8020) or, failing
 * that, MAPPED-ADDRESS (0x0001). A FINGERPRINT, if present, must be right.
 *
 *     uint8_t txid[12]; ts_random(txid, 12);  uint8_t req[TS_STUN_REQUEST_LEN];  ts_stun_request(req, txid);
 *     ...on a datagram: if (ts_stun_is_stun(buf, len)) { ts_addr me; uint8_t id[12];
 *                          if (ts_stun_parse_response(buf, len, id, &me) == 0 && id == txid) ... }
 */
#ifndef TS_STUN_H
#define TS_STUN_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TS_STUN_HDR_LEN 20
#define TS_STUN_TXID_LEN 12
#define TS_STUN_REQUEST_LEN 40
#define TS_STUN_MAGIC_COOKIE 0x2112A442u
#define TS_STUN_FINGERPRINT_XOR 0x5354554Eu

#define TS_STUN_BINDING_REQUEST 0x0001
#define TS_STUN_BINDING_SUCCESS 0x0101
#define TS_STUN_ATTR_MAPPED_ADDRESS 0x0001
#define TS_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define TS_STUN_ATTR_XOR_MAPPED_ADDRESS_OLD 0x8020
#define TS_STUN_ATTR_SOFTWARE 0x8022
#define TS_STUN_ATTR_FINGERPRINT 0x8028

typedef enum ts_stun_err {
  TS_STUN_E_NOT_STUN = -1,    /* not a STUN message of the expected type */
  TS_STUN_E_MALFORMED = -2,   /* lengths/attributes inconsistent */
  TS_STUN_E_FINGERPRINT = -3, /* FINGERPRINT present and wrong */
  TS_STUN_E_NO_ADDRESS = -4,  /* no usable mapped address */
  TS_STUN_E_BUFFER = -5
} ts_stun_err;

/* 1 if buf has a STUN header: >= 20 bytes, top two bits zero, the magic cookie. Cheap demux test. */
int ts_stun_is_stun(const uint8_t *buf, size_t len);
/* 1 if additionally the message type is Binding success (what netcheck waits for). */
int ts_stun_is_binding_response(const uint8_t *buf, size_t len);

/* Writes the 40-byte Binding request. */
void ts_stun_request(uint8_t out[TS_STUN_REQUEST_LEN], const uint8_t txid[TS_STUN_TXID_LEN]);
/* Parses a Binding request (for STUN responders and tests): checks type, length, fingerprint if present.
 * 0 and the transaction id, or an error. */
int ts_stun_parse_request(const uint8_t *buf, size_t len, uint8_t txid[TS_STUN_TXID_LEN]);

/* Parses a Binding success response: transaction id and the mapped address. 0 or an error. */
int ts_stun_parse_response(const uint8_t *buf, size_t len, uint8_t txid[TS_STUN_TXID_LEN], ts_addr *addr);
/* Writes a Binding success response with XOR-MAPPED-ADDRESS (and FINGERPRINT when fingerprint != 0), as a
 * STUN server would. Returns its length (32/44 bytes for IPv4, 44/56 for IPv6) or TS_STUN_E_BUFFER. */
long ts_stun_response(uint8_t *out, size_t cap, const uint8_t txid[TS_STUN_TXID_LEN], const ts_addr *addr,
                      int fingerprint);

/* CRC-32 (IEEE 802.3, the zlib one). */
uint32_t ts_stun_crc32(const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
