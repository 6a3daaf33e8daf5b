/* Peer-relay disco messages and the Geneve header: see disco_relay.h and docs/protocol/peer-relay.md. */
#include "disco/disco_relay.h"

#include <string.h>

#include "disco/stun.h"

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)(v >> 32));
  put32(p + 4, (uint32_t)v);
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

int ts_disco_relay_is_relay_type(const uint8_t *clear, size_t len) {
  return len >= 1 && clear[0] >= TS_DISCO_BIND_UDP_RELAY_ENDPOINT &&
         clear[0] <= TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE;
}

static long ep_len(const ts_disco_relay_ep *ep) {
  if (ep->n_addrs == 0 || ep->n_addrs > TS_DISCO_RELAY_MAX_ADDRS) return TS_DISCO_E_ARG;
  for (size_t i = 0; i < ep->n_addrs; i++)
    if (ep->addrs[i].family != TS_ADDR_V4 && ep->addrs[i].family != TS_ADDR_V6) return TS_DISCO_E_ARG;
  if (ep->vni > TS_DISCO_RELAY_VNI_MAX) return TS_DISCO_E_ARG;
  return TS_DISCO_RELAY_EP_FIXED_LEN + (long)(ep->n_addrs * TS_DISCO_EP_LEN);
}

static void ep_put(uint8_t *p, const ts_disco_relay_ep *ep) {
  memcpy(p, ep->server_disco, 32);
  memcpy(p + 32, ep->client_disco[0], 32);
  memcpy(p + 64, ep->client_disco[1], 32);
  put64(p + 96, ep->lamport_id);
  put32(p + 104, ep->vni);
  put64(p + 108, ep->bind_lifetime_ns);
  put64(p + 116, ep->steady_lifetime_ns);
  for (size_t i = 0; i < ep->n_addrs; i++)
    ts_disco_put_addr(p + TS_DISCO_RELAY_EP_FIXED_LEN + i * TS_DISCO_EP_LEN, &ep->addrs[i]);
}

/* The endpoint takes all of p: a whole, non-zero number of addresses after the fixed part. */
static int ep_get(ts_disco_relay_ep *ep, const uint8_t *p, size_t len) {
  if (len < TS_DISCO_RELAY_EP_FIXED_LEN + TS_DISCO_EP_LEN ||
      (len - TS_DISCO_RELAY_EP_FIXED_LEN) % TS_DISCO_EP_LEN != 0)
    return TS_DISCO_E_SHORT;
  memcpy(ep->server_disco, p, 32);
  memcpy(ep->client_disco[0], p + 32, 32);
  memcpy(ep->client_disco[1], p + 64, 32);
  ep->lamport_id = get64(p + 96);
  ep->vni = get32(p + 104);
  ep->bind_lifetime_ns = get64(p + 108);
  ep->steady_lifetime_ns = get64(p + 116);
  ep->n_addrs = (len - TS_DISCO_RELAY_EP_FIXED_LEN) / TS_DISCO_EP_LEN;
  for (size_t i = 0; i < ep->n_addrs && i < TS_DISCO_RELAY_MAX_ADDRS; i++)
    ts_disco_get_addr(&ep->addrs[i], p + TS_DISCO_RELAY_EP_FIXED_LEN + i * TS_DISCO_EP_LEN);
  return 0;
}

long ts_disco_relay_encode(uint8_t *out, size_t cap, const ts_disco_relay_msg *m) {
  long body;
  switch (m->type) {
  case TS_DISCO_BIND_UDP_RELAY_ENDPOINT:
  case TS_DISCO_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
  case TS_DISCO_BIND_UDP_RELAY_ENDPOINT_ANSWER:
    if (m->vni > TS_DISCO_RELAY_VNI_MAX) return TS_DISCO_E_ARG;
    body = TS_DISCO_RELAY_BIND_LEN;
    break;
  case TS_DISCO_CALL_ME_MAYBE_VIA:
    body = ep_len(&m->ep);
    break;
  case TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
    body = TS_DISCO_RELAY_ALLOC_REQ_LEN;
    break;
  case TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
    body = ep_len(&m->ep);
    if (body >= 0) body += 4;
    break;
  default:
    return TS_DISCO_E_UNKNOWN_TYPE;
  }
  if (body < 0) return body;
  if (cap < (size_t)body + 2) return TS_DISCO_E_BUFFER;
  out[0] = m->type;
  out[1] = m->version;
  uint8_t *p = out + 2;
  switch (m->type) {
  case TS_DISCO_CALL_ME_MAYBE_VIA:
    ep_put(p, &m->ep);
    break;
  case TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
    memcpy(p, m->client_disco[0], 32);
    memcpy(p + 32, m->client_disco[1], 32);
    put32(p + 64, m->generation);
    break;
  case TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
    put32(p, m->generation);
    ep_put(p + 4, &m->ep);
    break;
  default: /* 4-6 */
    put32(p, m->vni);
    put32(p + 4, m->generation);
    memcpy(p + 8, m->remote_key, 32);
    /* BindUDPRelayEndpoint's challenge is padding, sent as zeros so all three messages are one size */
    if (m->type == TS_DISCO_BIND_UDP_RELAY_ENDPOINT)
      memset(p + 40, 0, TS_DISCO_RELAY_CHALLENGE_LEN);
    else
      memcpy(p + 40, m->challenge, TS_DISCO_RELAY_CHALLENGE_LEN);
    break;
  }
  return body + 2;
}

int ts_disco_relay_decode(ts_disco_relay_msg *m, const uint8_t *clear, size_t len) {
  memset(m, 0, sizeof *m);
  if (len < 2) return TS_DISCO_E_SHORT;
  m->type = clear[0];
  m->version = clear[1];
  const uint8_t *p = clear + 2;
  size_t n = len - 2;
  switch (m->type) {
  case TS_DISCO_BIND_UDP_RELAY_ENDPOINT:
  case TS_DISCO_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
  case TS_DISCO_BIND_UDP_RELAY_ENDPOINT_ANSWER:
    if (n < TS_DISCO_RELAY_BIND_LEN) return TS_DISCO_E_SHORT;
    m->vni = get32(p);
    m->generation = get32(p + 4);
    memcpy(m->remote_key, p + 8, 32);
    memcpy(m->challenge, p + 40, TS_DISCO_RELAY_CHALLENGE_LEN);
    return 0;
  case TS_DISCO_CALL_ME_MAYBE_VIA:
    if (m->version != 0) return TS_DISCO_E_VERSION;
    return ep_get(&m->ep, p, n);
  case TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
    if (m->version != 0) return TS_DISCO_E_VERSION;
    if (n < TS_DISCO_RELAY_ALLOC_REQ_LEN) return TS_DISCO_E_SHORT;
    memcpy(m->client_disco[0], p, 32);
    memcpy(m->client_disco[1], p + 32, 32);
    m->generation = get32(p + 64);
    return 0;
  case TS_DISCO_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
    if (m->version != 0) return TS_DISCO_E_VERSION;
    if (n < 4) return TS_DISCO_E_SHORT;
    m->generation = get32(p);
    return ep_get(&m->ep, p + 4, n - 4);
  default:
    return TS_DISCO_E_UNKNOWN_TYPE;
  }
}

int ts_geneve_encode(uint8_t out[TS_GENEVE_LEN], const ts_geneve *h) {
  if (h->version > 3 || h->vni > TS_DISCO_RELAY_VNI_MAX) return TS_DISCO_E_ARG;
  out[0] = (uint8_t)(h->version << 6);
  out[1] = h->control ? 0x80 : 0;
  out[2] = (uint8_t)(h->protocol >> 8), out[3] = (uint8_t)h->protocol;
  put32(out + 4, h->vni << 8);
  return 0;
}

int ts_geneve_decode(ts_geneve *h, const uint8_t *buf, size_t len) {
  if (len < TS_GENEVE_LEN) return TS_DISCO_E_SHORT;
  h->version = buf[0] >> 6;
  h->control = (buf[1] & 0x80) != 0;
  h->protocol = (uint16_t)(buf[2] << 8 | buf[3]);
  h->vni = get32(buf + 4) >> 8;
  return 0;
}

/* Disco's header (magic || sender key): the Geneve path tests this much, as Tailscale's client does. */
static int looks_like_disco_hdr(const uint8_t *b, size_t len) {
  return len >= TS_DISCO_HDR_LEN && memcmp(b, ts_disco_magic, TS_DISCO_MAGIC_LEN) == 0;
}

ts_udp_kind ts_udp_classify(const uint8_t *buf, size_t len, int *geneve) {
  *geneve = 0;
  /* STUN binding: byte 1 is 0x01, which a Geneve header (low reserved bits 0), WireGuard (0) and disco
   * ('S') never have there. */
  if (ts_stun_is_stun(buf, len) && buf[1] == 0x01) return TS_UDP_STUN;
  /* Geneve: version 0, reserved bits and byte zero, a protocol WireGuard (bytes 2-3 zero) and disco
   * (0xf09f) never carry there. */
  if (len >= TS_GENEVE_LEN && (buf[0] & 0xC0) == 0 && (buf[1] & 0x3F) == 0 && buf[7] == 0) {
    uint16_t proto = (uint16_t)(buf[2] << 8 | buf[3]);
    if (proto == TS_GENEVE_PROTO_DISCO) {
      if (looks_like_disco_hdr(buf + TS_GENEVE_LEN, len - TS_GENEVE_LEN)) {
        *geneve = 1;
        return TS_UDP_DISCO;
      }
      return TS_UDP_WIREGUARD;
    }
    if (proto == TS_GENEVE_PROTO_WIREGUARD) {
      *geneve = 1;
      return TS_UDP_WIREGUARD;
    }
  }
  return looks_like_disco_hdr(buf, len) ? TS_UDP_DISCO : TS_UDP_WIREGUARD;
}
