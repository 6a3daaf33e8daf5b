/* Peer-relay bind handshake, client side: see relay_bind.h and docs/protocol/peer-relay.md §3. */
#include "magicsock/relay_bind.h"

#include <string.h>

#include "crypto/crypto.h"

int ts_relay_bind_init(ts_relay_bind *b, const ts_disco_relay_ep *ep, const uint8_t our_priv[TS_DISCO_KEY_LEN],
                       const uint8_t our_pub[TS_DISCO_KEY_LEN], uint32_t generation) {
  memset(b, 0, sizeof *b);
  if (generation == 0 || ep->vni > TS_DISCO_RELAY_VNI_MAX) return TS_DISCO_E_ARG;
  int is0 = ts_ct_equal(ep->client_disco[0], our_pub, TS_DISCO_KEY_LEN);
  int is1 = ts_ct_equal(ep->client_disco[1], our_pub, TS_DISCO_KEY_LEN);
  if (is0 == is1) return TS_DISCO_E_ARG; /* neither, or both (an endpoint to ourselves) */
  int rc = ts_disco_shared_key(b->shared, ep->server_disco, our_priv);
  if (rc != 0) return rc;
  b->ep = *ep;
  memcpy(b->our_pub, our_pub, TS_DISCO_KEY_LEN);
  memcpy(b->remote, ep->client_disco[is0 ? 1 : 0], TS_DISCO_KEY_LEN);
  b->generation = generation;
  return 0;
}

static long seal_control(ts_relay_bind *b, uint8_t type, const uint8_t challenge[TS_DISCO_RELAY_CHALLENGE_LEN],
                         uint8_t *out, size_t cap, const uint8_t nonce[TS_DISCO_NONCE_LEN]) {
  if (cap < TS_RELAY_BIND_PKT_LEN) return TS_DISCO_E_BUFFER;
  ts_geneve h = {.control = 1, .protocol = TS_GENEVE_PROTO_DISCO, .vni = b->ep.vni};
  int rc = ts_geneve_encode(out, &h);
  if (rc != 0) return rc;
  ts_disco_relay_msg m;
  memset(&m, 0, sizeof m);
  m.type = type;
  m.vni = b->ep.vni;
  m.generation = b->generation;
  memcpy(m.remote_key, b->remote, TS_DISCO_KEY_LEN);
  if (challenge) memcpy(m.challenge, challenge, TS_DISCO_RELAY_CHALLENGE_LEN);
  uint8_t clear[2 + TS_DISCO_RELAY_BIND_LEN];
  long n = ts_disco_relay_encode(clear, sizeof clear, &m);
  if (n < 0) return n;
  long s = ts_disco_seal(out + TS_GENEVE_LEN, cap - TS_GENEVE_LEN, b->our_pub, b->shared, nonce, clear, (size_t)n);
  ts_wipe(clear, sizeof clear);
  return s < 0 ? s : s + TS_GENEVE_LEN;
}

long ts_relay_bind_request(ts_relay_bind *b, uint8_t *out, size_t cap, const uint8_t nonce[TS_DISCO_NONCE_LEN]) {
  long n = seal_control(b, TS_DISCO_BIND_UDP_RELAY_ENDPOINT, NULL, out, cap, nonce);
  if (n > 0) b->state = TS_RELAY_BIND_SENT;
  return n;
}

long ts_relay_bind_input(ts_relay_bind *b, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap,
                         const uint8_t nonce[TS_DISCO_NONCE_LEN]) {
  int geneve;
  ts_geneve h;
  if (ts_udp_classify(pkt, len, &geneve) != TS_UDP_DISCO || !geneve || ts_geneve_decode(&h, pkt, len) != 0 ||
      !h.control || h.vni != b->ep.vni)
    return TS_RELAY_E_NOT_OURS;
  const uint8_t *d = pkt + TS_GENEVE_LEN;
  size_t dlen = len - TS_GENEVE_LEN;
  if (!ts_disco_is_disco(d, dlen) || !ts_ct_equal(ts_disco_sender(d), b->ep.server_disco, TS_DISCO_KEY_LEN))
    return TS_RELAY_E_NOT_OURS;
  uint8_t clear[256];
  /* a Challenge's cleartext is 74 bytes; anything much larger is not one */
  if (dlen >= TS_DISCO_OVERHEAD && dlen - TS_DISCO_OVERHEAD > sizeof clear) return TS_RELAY_E_UNEXPECTED;
  long cn = ts_disco_open(clear, sizeof clear, d, dlen, b->shared);
  if (cn < 0) return cn;
  ts_disco_relay_msg m;
  int rc = ts_disco_relay_decode(&m, clear, (size_t)cn);
  ts_wipe(clear, sizeof clear);
  if (rc == TS_DISCO_E_SHORT) return rc;
  if (rc != 0 || m.type != TS_DISCO_BIND_UDP_RELAY_ENDPOINT_CHALLENGE || b->state == TS_RELAY_BIND_IDLE ||
      m.vni != b->ep.vni || m.generation != b->generation ||
      !ts_ct_equal(m.remote_key, b->remote, TS_DISCO_KEY_LEN))
    return TS_RELAY_E_UNEXPECTED;
  long n = seal_control(b, TS_DISCO_BIND_UDP_RELAY_ENDPOINT_ANSWER, m.challenge, out, cap, nonce);
  ts_wipe(&m, sizeof m);
  if (n > 0) {
    b->state = TS_RELAY_BIND_ANSWERED;
    b->challenges++;
  }
  return n;
}

void ts_relay_bind_wipe(ts_relay_bind *b) { ts_wipe(b, sizeof *b); }

long ts_relay_encap(uint8_t *out, size_t cap, uint32_t vni, uint16_t proto, const uint8_t *payload, size_t len) {
  if (cap < TS_GENEVE_LEN || cap - TS_GENEVE_LEN < len) return TS_DISCO_E_BUFFER;
  ts_geneve h = {.protocol = proto, .vni = vni};
  int rc = ts_geneve_encode(out, &h);
  if (rc != 0) return rc;
  memcpy(out + TS_GENEVE_LEN, payload, len);
  return (long)(TS_GENEVE_LEN + len);
}
