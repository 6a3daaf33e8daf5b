/* Peer-relay disco messages and the Geneve header (docs/protocol/peer-relay.md). Pure functions: no sockets,
 * clocks or global state. They live beside disco.h's Ping/Pong/CallMeMaybe and share its sealing
 * (ts_disco_seal/ts_disco_open): the cleartext is type u8 || version u8 || payload, as there.
 *
 *   4 BindUDPRelayEndpoint           client -> relay server, over UDP inside Geneve (control bit set)
 *   5 BindUDPRelayEndpointChallenge  relay server -> client, same
 *   6 BindUDPRelayEndpointAnswer     client -> relay server, same
 *       payload: VNI u32 || generation u32 || remote client's disco key[32] || challenge[32]   (72 bytes)
 *   7 CallMeMaybeVia                 peer -> peer over DERP: a relay endpoint (below)
 *   8 AllocateUDPRelayEndpointRequest   client -> relay node over DERP: disco key[32] x2 || generation u32
 *   9 AllocateUDPRelayEndpointResponse  relay node -> client over DERP: generation u32 || relay endpoint
 *       relay endpoint: server disco key[32] || client disco keys[32] x2 || Lamport ID u64 || VNI u32 ||
 *                       bind lifetime u64 ns || steady-state lifetime u64 ns || (ip[16] || port u16) x N, N >= 1
 * All integers big-endian. The Bind messages ignore their version byte and trailing bytes; 7, 8 and 9 with a
 * version other than 0 are to be ignored (TS_DISCO_E_VERSION), as Tailscale's client does.
 *
 * Geneve (RFC 8926) fixed header, 8 bytes, in front of every datagram to or from a relay endpoint:
 *     ver(2)|optlen(6) || O(1)|C(1)|rsvd(6) || protocol u16 || VNI u24 || reserved u8
 * protocol 0x7A11 = disco, 0x7A12 = WireGuard; O (control) is set only on the bind handshake messages. */
#ifndef TS_DISCO_RELAY_H
#define TS_DISCO_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "disco/disco.h"
#include "net/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  TS_DISCO_BIND_UDP_RELAY_ENDPOINT = 0x04,
  TS_DISCO_BIND_UDP_RELAY_ENDPOINT_CHALLENGE = 0x05,
  TS_DISCO_BIND_UDP_RELAY_ENDPOINT_ANSWER = 0x06,
  TS_DISCO_CALL_ME_MAYBE_VIA = 0x07,
  TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST = 0x08,
  TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE = 0x09
};

/* A version other than 0 on types 7-9: ignore the message (in addition to disco.h's ts_disco_err codes). */
#define TS_DISCO_E_VERSION (-8)

#define TS_DISCO_RELAY_CHALLENGE_LEN 32
#define TS_DISCO_RELAY_BIND_LEN 72           /* payload of types 4-6 */
#define TS_DISCO_RELAY_ALLOC_REQ_LEN 68      /* payload of type 8 */
#define TS_DISCO_RELAY_EP_FIXED_LEN 124      /* relay endpoint without its addresses */
#define TS_DISCO_RELAY_MAX_ADDRS 16          /* addresses decoded (more are counted, not stored) */
#define TS_DISCO_RELAY_VNI_MAX 0xFFFFFFu

/* A relay endpoint as a relay server allocated it (types 7 and 9). */
typedef struct ts_disco_relay_ep {
  uint8_t server_disco[TS_DISCO_KEY_LEN];    /* the relay server's own disco key: bind messages are sealed to it */
  uint8_t client_disco[2][TS_DISCO_KEY_LEN]; /* the two clients allowed to bind */
  uint64_t lamport_id;                       /* orders allocations from one server (newer is larger) */
  uint32_t vni;                              /* the Geneve VNI naming the endpoint */
  uint64_t bind_lifetime_ns;                 /* time to finish binding before the server drops it */
  uint64_t steady_lifetime_ns;               /* idle time after which a bound endpoint is dropped */
  size_t n_addrs;                            /* decode: how many were on the wire (>= 1) */
  ts_addr addrs[TS_DISCO_RELAY_MAX_ADDRS];   /* the server's UDP addresses, first min(n_addrs, MAX) */
} ts_disco_relay_ep;

typedef struct ts_disco_relay_msg {
  uint8_t type;    /* 4-9 */
  uint8_t version; /* 0 when sending */
  /* 4, 5, 6 and 8 (generation only) */
  uint32_t vni;
  uint32_t generation;
  uint8_t remote_key[TS_DISCO_KEY_LEN];                 /* 4-6: the other client's disco key */
  uint8_t challenge[TS_DISCO_RELAY_CHALLENGE_LEN];      /* 5-6 (zero in 4) */
  uint8_t client_disco[2][TS_DISCO_KEY_LEN];            /* 8 */
  /* 7, 9 (9 also carries `generation`) */
  ts_disco_relay_ep ep;
} ts_disco_relay_msg;

/* 1 if the cleartext's type byte is 4-9 (use ts_disco_relay_decode instead of ts_disco_decode). */
int ts_disco_relay_is_relay_type(const uint8_t *clear, size_t len);
/* Cleartext encoding. Returns its length or TS_DISCO_E_BUFFER / TS_DISCO_E_ARG (VNI over 24 bits, an
 * endpoint without addresses or with more than TS_DISCO_RELAY_MAX_ADDRS, an address without family) /
 * TS_DISCO_E_UNKNOWN_TYPE. */
long ts_disco_relay_encode(uint8_t *out, size_t cap, const ts_disco_relay_msg *m);
/* Decodes a cleartext of types 4-9. 0, TS_DISCO_E_SHORT (too short, or an endpoint whose address bytes are
 * not a whole, non-zero number of addresses), TS_DISCO_E_VERSION or TS_DISCO_E_UNKNOWN_TYPE. m is zeroed
 * first. */
int ts_disco_relay_decode(ts_disco_relay_msg *m, const uint8_t *clear, size_t len);

/* ---- Geneve ---- */
#define TS_GENEVE_LEN 8
#define TS_GENEVE_PROTO_DISCO 0x7A11
#define TS_GENEVE_PROTO_WIREGUARD 0x7A12

typedef struct ts_geneve {
  uint8_t version;   /* 0 */
  uint8_t control;   /* O bit: relay handshake messages */
  uint16_t protocol; /* TS_GENEVE_PROTO_* */
  uint32_t vni;      /* 24 bits */
} ts_geneve;

/* Writes the 8-byte header. 0, or TS_DISCO_E_ARG (version > 3, VNI over 24 bits). */
int ts_geneve_encode(uint8_t out[TS_GENEVE_LEN], const ts_geneve *h);
/* Reads the header fields (no validity checks beyond length). 0 or TS_DISCO_E_SHORT. */
int ts_geneve_decode(ts_geneve *h, const uint8_t *buf, size_t len);

/* What a datagram on the shared UDP socket is, Geneve-aware (docs/protocol/peer-relay.md §4). */
typedef enum ts_udp_kind {
  TS_UDP_WIREGUARD = 0,
  TS_UDP_STUN = 1,
  TS_UDP_DISCO = 2
} ts_udp_kind;
/* Classifies buf; *geneve is set to 1 when the payload starts after a Geneve header (TS_GENEVE_LEN bytes),
 * else 0. A well-formed header says disco but is not followed by a disco packet: WireGuard, not Geneve (it
 * is then dropped as WireGuard garbage); an unknown protocol falls through to the plain tests. */
ts_udp_kind ts_udp_classify(const uint8_t *buf, size_t len, int *geneve);

#ifdef __cplusplus
}
#endif
#endif
