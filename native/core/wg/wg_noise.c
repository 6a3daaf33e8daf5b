/* Noise IKpsk2 for WireGuard, following the message steps of the whitepaper, section 5.4. */
#include "wg_noise.h"

#include <string.h>

#include "crypto/crypto.h"

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* h = HASH(h || data) */
static void mix_hash(uint8_t h[32], const uint8_t *data, size_t len) {
  ts_blake2s_ctx c;
  ts_blake2s_init(&c, 32, NULL, 0);
  ts_blake2s_update(&c, h, 32);
  ts_blake2s_update(&c, data, len);
  ts_blake2s_final(&c, h, 32);
}

void ts_wg_noise_identity_init(ts_wg_noise_identity *id, const uint8_t priv[32]) {
  memcpy(id->priv, priv, 32);
  ts_x25519_clamp(id->priv);
  ts_x25519_public(id->pub, id->priv);
  ts_blake2s(id->ck0, 32, CONSTRUCTION, sizeof CONSTRUCTION - 1, NULL, 0);
  memcpy(id->h0, id->ck0, 32);
  mix_hash(id->h0, (const uint8_t *)IDENTIFIER, sizeof IDENTIFIER - 1);
  memcpy(id->h0_self, id->h0, 32);
  mix_hash(id->h0_self, id->pub, 32);
}

void ts_wg_noise_peer_init(ts_wg_noise_peer *p, const ts_wg_noise_identity *id, const uint8_t pub[32],
                           const uint8_t psk[32]) {
  memcpy(p->pub, pub, 32);
  if (psk) memcpy(p->psk, psk, 32);
  else memset(p->psk, 0, 32);
  p->ss_state = 0;
  memcpy(p->h0_peer, id->h0, 32);
  mix_hash(p->h0_peer, pub, 32);
}

void ts_wg_handshake_clear(ts_wg_handshake *hs) { ts_wipe(hs, sizeof *hs); }

int ts_wg_noise_peer_prepare(ts_wg_noise_peer *p, const ts_wg_noise_identity *id) {
  if (p->ss_state == 0) p->ss_state = ts_x25519(p->ss, id->priv, p->pub) == 0 ? 1 : -1;
  return p->ss_state == 1 ? 0 : -1;
}

static void keypair_from_random(uint8_t priv[32], uint8_t pub[32], const uint8_t rnd[32]) {
  memcpy(priv, rnd, 32);
  ts_x25519_clamp(priv);
  ts_x25519_public(pub, priv);
}

int ts_wg_noise_create_initiation(ts_wg_handshake *hs, const ts_wg_noise_identity *id, const ts_wg_noise_peer *p,
                                  const uint8_t eph_random[32], uint64_t wall_ns, uint32_t local_index,
                                  ts_wg_msg_initiation *out) {
  if (p->ss_state != 1) return -1;
  uint8_t ck[32], h[32], k[32], dh[32], ts[TS_WG_TAI64N_LEN];
  memset(out, 0, sizeof *out);
  memcpy(ck, id->ck0, 32);
  memcpy(h, p->h0_peer, 32);
  keypair_from_random(hs->eph_priv, out->ephemeral, eph_random);
  out->sender = local_index;
  ts_kdf(ck, NULL, NULL, ck, out->ephemeral, 32);
  mix_hash(h, out->ephemeral, 32);
  int rc = -1;
  if (ts_x25519(dh, hs->eph_priv, p->pub)) goto done;
  ts_kdf(ck, k, NULL, ck, dh, 32);
  ts_chacha_seal(out->enc_static, id->pub, 32, h, 32, (const uint8_t[12]){0}, k);
  mix_hash(h, out->enc_static, sizeof out->enc_static);
  ts_kdf(ck, k, NULL, ck, p->ss, 32);
  ts_wg_tai64n(ts, wall_ns);
  ts_chacha_seal(out->enc_timestamp, ts, sizeof ts, h, 32, (const uint8_t[12]){0}, k);
  mix_hash(h, out->enc_timestamp, sizeof out->enc_timestamp);
  memcpy(hs->ck, ck, 32);
  memcpy(hs->h, h, 32);
  hs->local_index = local_index;
  hs->remote_index = 0;
  hs->state = TS_WG_HS_INITIATION_CREATED;
  rc = 0;
done:
  ts_wipe(ck, 32), ts_wipe(k, 32), ts_wipe(dh, 32);
  return rc;
}

int ts_wg_noise_consume_initiation1(ts_wg_noise_init_state *st, const ts_wg_noise_identity *id,
                                    const ts_wg_msg_initiation *m) {
  uint8_t k[32], dh[32];
  int rc = -1;
  memcpy(st->ck, id->ck0, 32);
  memcpy(st->h, id->h0_self, 32);
  memcpy(st->remote_eph, m->ephemeral, 32);
  ts_kdf(st->ck, NULL, NULL, st->ck, m->ephemeral, 32);
  mix_hash(st->h, m->ephemeral, 32);
  if (ts_x25519(dh, id->priv, m->ephemeral)) goto done;
  ts_kdf(st->ck, k, NULL, st->ck, dh, 32);
  if (ts_chacha_open(st->peer_pub, m->enc_static, sizeof m->enc_static, st->h, 32, (const uint8_t[12]){0}, k))
    goto done;
  mix_hash(st->h, m->enc_static, sizeof m->enc_static);
  rc = 0;
done:
  ts_wipe(k, 32), ts_wipe(dh, 32);
  if (rc) ts_wipe(st, sizeof *st);
  return rc;
}

int ts_wg_noise_consume_initiation2(ts_wg_noise_init_state *st, const ts_wg_noise_peer *p,
                                    const ts_wg_msg_initiation *m, uint8_t ts[TS_WG_TAI64N_LEN]) {
  uint8_t k[32];
  int rc = -1;
  if (p->ss_state != 1) goto done;
  ts_kdf(st->ck, k, NULL, st->ck, p->ss, 32);
  if (ts_chacha_open(ts, m->enc_timestamp, sizeof m->enc_timestamp, st->h, 32, (const uint8_t[12]){0}, k))
    goto done;
  mix_hash(st->h, m->enc_timestamp, sizeof m->enc_timestamp);
  rc = 0;
done:
  ts_wipe(k, 32);
  if (rc) ts_wipe(st, sizeof *st);
  return rc;
}

void ts_wg_noise_accept_initiation(ts_wg_handshake *hs, const ts_wg_noise_init_state *st,
                                   const ts_wg_msg_initiation *m) {
  ts_wipe(hs->eph_priv, 32); /* a pending initiation of ours is superseded */
  memcpy(hs->ck, st->ck, 32);
  memcpy(hs->h, st->h, 32);
  memcpy(hs->remote_eph, st->remote_eph, 32);
  hs->remote_index = m->sender;
  hs->state = TS_WG_HS_INITIATION_CONSUMED;
}

int ts_wg_noise_create_response(ts_wg_handshake *hs, const ts_wg_noise_peer *p, const uint8_t eph_random[32],
                                uint32_t local_index, ts_wg_msg_response *out) {
  if (hs->state != TS_WG_HS_INITIATION_CONSUMED) return -1;
  uint8_t ck[32], h[32], tau[32], k[32], dh[32];
  int rc = -1;
  memset(out, 0, sizeof *out);
  memcpy(ck, hs->ck, 32);
  memcpy(h, hs->h, 32);
  keypair_from_random(hs->eph_priv, out->ephemeral, eph_random);
  out->sender = local_index;
  out->receiver = hs->remote_index;
  ts_kdf(ck, NULL, NULL, ck, out->ephemeral, 32);
  mix_hash(h, out->ephemeral, 32);
  if (ts_x25519(dh, hs->eph_priv, hs->remote_eph)) goto done;
  ts_kdf(ck, NULL, NULL, ck, dh, 32);
  if (ts_x25519(dh, hs->eph_priv, p->pub)) goto done;
  ts_kdf(ck, NULL, NULL, ck, dh, 32);
  ts_kdf(ck, tau, k, ck, p->psk, 32);
  mix_hash(h, tau, 32);
  ts_chacha_seal(out->enc_empty, NULL, 0, h, 32, (const uint8_t[12]){0}, k);
  mix_hash(h, out->enc_empty, sizeof out->enc_empty);
  memcpy(hs->ck, ck, 32);
  memcpy(hs->h, h, 32);
  hs->local_index = local_index;
  hs->state = TS_WG_HS_RESPONSE_CREATED;
  rc = 0;
done:
  ts_wipe(ck, 32), ts_wipe(tau, 32), ts_wipe(k, 32), ts_wipe(dh, 32);
  ts_wipe(hs->eph_priv, 32);
  return rc;
}

int ts_wg_noise_consume_response(ts_wg_handshake *hs, const ts_wg_noise_identity *id, const ts_wg_noise_peer *p,
                                 const ts_wg_msg_response *m) {
  if (hs->state != TS_WG_HS_INITIATION_CREATED || m->receiver != hs->local_index) return -1;
  uint8_t ck[32], h[32], tau[32], k[32], dh[32];
  int rc = -1;
  memcpy(ck, hs->ck, 32);
  memcpy(h, hs->h, 32);
  ts_kdf(ck, NULL, NULL, ck, m->ephemeral, 32);
  mix_hash(h, m->ephemeral, 32);
  if (ts_x25519(dh, hs->eph_priv, m->ephemeral)) goto done;
  ts_kdf(ck, NULL, NULL, ck, dh, 32);
  if (ts_x25519(dh, id->priv, m->ephemeral)) goto done;
  ts_kdf(ck, NULL, NULL, ck, dh, 32);
  ts_kdf(ck, tau, k, ck, p->psk, 32);
  mix_hash(h, tau, 32);
  uint8_t none[1];
  if (ts_chacha_open(none, m->enc_empty, sizeof m->enc_empty, h, 32, (const uint8_t[12]){0}, k)) goto done;
  mix_hash(h, m->enc_empty, sizeof m->enc_empty);
  memcpy(hs->ck, ck, 32);
  memcpy(hs->h, h, 32);
  hs->remote_index = m->sender;
  hs->state = TS_WG_HS_RESPONSE_CONSUMED;
  ts_wipe(hs->eph_priv, 32);
  rc = 0;
done:
  ts_wipe(ck, 32), ts_wipe(tau, 32), ts_wipe(k, 32), ts_wipe(dh, 32);
  return rc;
}

int ts_wg_noise_derive(ts_wg_handshake *hs, uint8_t send_key[32], uint8_t recv_key[32]) {
  int initiator;
  if (hs->state == TS_WG_HS_RESPONSE_CONSUMED) initiator = 1;
  else if (hs->state == TS_WG_HS_RESPONSE_CREATED) initiator = 0;
  else return -1;
  /* (T_i->r, T_r->i) = KDF2(ck, empty) */
  if (initiator) ts_kdf(send_key, recv_key, NULL, hs->ck, NULL, 0);
  else ts_kdf(recv_key, send_key, NULL, hs->ck, NULL, 0);
  uint32_t li = hs->local_index, ri = hs->remote_index;
  ts_wipe(hs, sizeof *hs);
  hs->local_index = li;
  hs->remote_index = ri;
  return initiator;
}
