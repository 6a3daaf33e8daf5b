/* libFuzzer target: peer-relay disco cleartexts (disco/disco_relay.h), the Geneve-aware UDP classifier and the
 * client bind handshake's input (magicsock/relay_bind.h), docs/protocol/peer-relay.md. A decoded message must
 * re-encode and decode to the same message; a handshake datagram must never change state unless it is
 * answered. Crashes, sanitizer reports or broken invariants abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "disco/disco_relay.h"
#include "magicsock/relay_bind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int inited;
  if (!inited) {
    if (ts_crypto_init() != 0) abort();
    inited = 1;
  }
  /* 1. the bytes as a cleartext */
  ts_disco_relay_msg m, m2;
  int rc = ts_disco_relay_decode(&m, data, size);
  if (rc == 0) {
    if (!ts_disco_relay_is_relay_type(data, size)) abort();
    /* more addresses than are stored cannot re-encode; the stored ones must */
    if (m.ep.n_addrs > TS_DISCO_RELAY_MAX_ADDRS) m.ep.n_addrs = TS_DISCO_RELAY_MAX_ADDRS;
    uint8_t out[2 + 4 + TS_DISCO_RELAY_EP_FIXED_LEN + TS_DISCO_RELAY_MAX_ADDRS * TS_DISCO_EP_LEN];
    long n = ts_disco_relay_encode(out, sizeof out, &m);
    /* the wire carries 32 bits of VNI but a VNI has 24: such a message decodes and cannot be sent */
    if (m.vni > TS_DISCO_RELAY_VNI_MAX || m.ep.vni > TS_DISCO_RELAY_VNI_MAX) {
      if (n != TS_DISCO_E_ARG) abort();
      goto datagram;
    }
    if (n < 0) abort();
    if (ts_disco_relay_decode(&m2, out, (size_t)n) != 0) abort();
    if (m2.ep.n_addrs > TS_DISCO_RELAY_MAX_ADDRS) abort();
    /* a Bind's challenge is sent as zeros; everything else must survive */
    if (m.type == TS_DISCO_BIND_UDP_RELAY_ENDPOINT) memset(m.challenge, 0, sizeof m.challenge);
    /* the address bytes past n_addrs are left as decode zeroed them in both */
    if (memcmp(&m, &m2, sizeof m) != 0) abort();
  } else if (rc != TS_DISCO_E_SHORT && rc != TS_DISCO_E_VERSION && rc != TS_DISCO_E_UNKNOWN_TYPE) {
    abort();
  }

datagram:;
  /* 2. the bytes as a datagram */
  int geneve = -1;
  ts_udp_kind k = ts_udp_classify(data, size, &geneve);
  if (k != TS_UDP_WIREGUARD && k != TS_UDP_STUN && k != TS_UDP_DISCO) abort();
  if (geneve != 0 && geneve != 1) abort();
  if (geneve && size < TS_GENEVE_LEN) abort();
  if (k == TS_UDP_DISCO && !geneve && !ts_disco_is_disco(data, size) && size >= TS_DISCO_MIN_LEN) abort();

  /* 3. the bytes as a datagram from the relay server during a handshake (fixed keys) */
  uint8_t our_priv[32], our_pub[32], srv_priv[32];
  memset(our_priv, 0x11, 32);
  memset(srv_priv, 0x22, 32);
  ts_x25519_public(our_pub, our_priv);
  ts_disco_relay_ep ep;
  memset(&ep, 0, sizeof ep);
  ts_x25519_public(ep.server_disco, srv_priv);
  memcpy(ep.client_disco[0], our_pub, 32);
  memset(ep.client_disco[1], 0x33, 32);
  ep.vni = 5;
  ep.n_addrs = 1;
  ts_addr_parse(&ep.addrs[0], "127.0.0.1", 1);
  ts_relay_bind b;
  if (ts_relay_bind_init(&b, &ep, our_priv, our_pub, 1) != 0) abort();
  uint8_t pkt[TS_RELAY_BIND_PKT_LEN];
  if (ts_relay_bind_request(&b, pkt, sizeof pkt, NULL) != TS_RELAY_BIND_PKT_LEN) abort();
  long r = ts_relay_bind_input(&b, data, size, pkt, sizeof pkt, NULL);
  if (r > 0 ? b.state != TS_RELAY_BIND_ANSWERED : b.state != TS_RELAY_BIND_SENT) abort();
  if (r == 0) abort();
  ts_relay_bind_wipe(&b);
  return 0;
}
