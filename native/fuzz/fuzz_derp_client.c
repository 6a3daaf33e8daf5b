/* libFuzzer target: the DERP client fed untrusted server bytes. The first input byte picks the setup:
 *   bit 0: the stream starts with an HTTP response head (expect_http)
 *   bit 1: fast start (server key known in advance)
 *   bit 2: steer past the handshake: a valid ServerKey + ServerInfo (sealed to our key) is fed first, so the
 *          mutated bytes reach the connected state's frame handling
 * The rest is a script: a control byte then a chunk (length from the control byte) of stream bytes; the
 * control byte's high bits interleave sends, pings, ticks with time jumps and partial output drains.
 * The frame codec, the ServerInfo JSON parser and the HTTP parser also see the raw input, and a frame that
 * decodes must re-encode to the same bytes. Crashes, sanitizer reports or broken invariants abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "derp/derp.h"

#define SEC 1000000000ULL

static void on_event(void *ctx, const ts_derp_event *ev) {
  size_t *count = ctx;
  (*count)++;
  /* touch what the event points at, so ASan checks its bounds */
  volatile uint8_t sink = 0;
  if (ev->key)
    for (int i = 0; i < 32; i++) sink ^= ev->key[i];
  for (size_t i = 0; i < ev->len; i++) sink ^= ev->data[i];
  (void)sink;
  if (ev->type == TS_DERP_EV_RECV_PACKET && ev->len > TS_DERP_MAX_PACKET) abort();
  if (ev->type == TS_DERP_EV_HEALTH && ev->len > TS_DERP_MAX_HEALTH) abort();
}

static void rng(void *ctx, void *buf, size_t len) {
  (void)ctx;
  memset(buf, 0x5a, len);
}

static void codec_roundtrip(const uint8_t *data, size_t size) {
  if (size < TS_DERP_HDR_LEN) return;
  uint8_t type;
  uint32_t len;
  if (ts_derp_get_header(data, &type, &len) != 0) return;
  if (len > size - TS_DERP_HDR_LEN) len = (uint32_t)(size - TS_DERP_HDR_LEN);
  ts_derp_frame f;
  if (ts_derp_frame_decode(&f, type, data + TS_DERP_HDR_LEN, len) != 0) return;
  long n = ts_derp_frame_size(&f);
  if (n < 0) abort();
  uint8_t *out = malloc((size_t)n);
  if (!out) return;
  if (ts_derp_frame_encode(out, (size_t)n, &f) != n) abort();
  /* re-decoding the encoding gives the same fields */
  ts_derp_frame g;
  if (ts_derp_frame_decode(&g, out[0], out + TS_DERP_HDR_LEN, (size_t)n - TS_DERP_HDR_LEN) != 0) abort();
  if (g.type != f.type || memcmp(g.key, f.key, 32) || memcmp(g.key2, f.key2, 32) || g.data_len != f.data_len ||
      memcmp(g.ping, f.ping, 8) || g.reason != f.reason || g.flags != f.flags || g.port != f.port ||
      g.reconnect_in_ms != f.reconnect_in_ms || g.try_for_ms != f.try_for_ms)
    abort();
  if (f.data_len && memcmp(g.data, f.data, f.data_len)) abort();
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int inited;
  if (!inited) {
    if (ts_crypto_init() != 0) abort();
    inited = 1;
  }
  codec_roundtrip(data, size);
  ts_derp_server_info si;
  (void)ts_derp_parse_server_info(&si, data, size);
  ts_derp_http_response hr;
  (void)ts_derp_http_parse_response(&hr, data, size);
  if (size < 1) return 0;

  uint8_t mode = data[0];
  data++, size--;
  /* fixed keys: client node key and server key */
  uint8_t cpriv[32], cpub[32], spriv[32], spub[32];
  memset(cpriv, 0x11, 32);
  memset(spriv, 0x22, 32);
  ts_x25519_public(cpub, cpriv);
  ts_x25519_public(spub, spriv);

  size_t events = 0;
  ts_derp_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  memcpy(cfg.node_private, cpriv, 32);
  cfg.expect_http = mode & 1;
  if (mode & 2) {
    cfg.fast_start = 1, cfg.has_server_key = 1;
    memcpy(cfg.server_key, spub, 32);
  }
  cfg.out_cap = 128 * 1024;
  cfg.on_event = on_event, cfg.ctx = &events;
  cfg.rng = rng;
  uint64_t now = 1000 * SEC;
  ts_derp_client *c = ts_derp_client_new(&cfg, now);
  if (!c) abort();

  if (mode & 4) {
    uint8_t hello[256];
    size_t n = 0;
    if (cfg.expect_http && !cfg.fast_start) {
      const char *h = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\n\r\n";
      memcpy(hello, h, strlen(h));
      n = strlen(h);
    }
    ts_derp_frame f;
    memset(&f, 0, sizeof f);
    f.type = TS_DERP_FRAME_SERVER_KEY;
    memcpy(f.key, spub, 32);
    n += (size_t)ts_derp_frame_encode(hello + n, sizeof hello - n, &f);
    uint8_t sealed[128];
    const char *json = "{\"version\":2,\"TokenBucketBytesPerSecond\":100}";
    uint8_t nonce[24] = {7};
    long sl = ts_derp_seal_info(sealed, sizeof sealed, (const uint8_t *)json, strlen(json), nonce, cpub, spriv);
    memset(&f, 0, sizeof f);
    f.type = TS_DERP_FRAME_SERVER_INFO;
    f.data = sealed, f.data_len = (size_t)sl;
    n += (size_t)ts_derp_frame_encode(hello + n, sizeof hello - n, &f);
    if (ts_derp_client_input(c, hello, n, now) != 0) abort();
    if (ts_derp_client_state(c) != TS_DERP_ST_CONNECTED) abort();
  }

  static uint8_t pkt[TS_DERP_MAX_PACKET];
  size_t off = 0;
  while (off < size) {
    uint8_t ctl = data[off++];
    size_t chunk = (size_t)(ctl & 0x1f) + 1;
    if ((ctl & 0x1f) == 0x1f && off < size) chunk = (size_t)data[off++] * 64 + 1; /* long chunks too */
    if (chunk > size - off) chunk = size - off;
    int was_error = ts_derp_client_state(c) == TS_DERP_ST_ERROR;
    int r = ts_derp_client_input(c, data + off, chunk, now);
    off += chunk;
    if (was_error && (r >= 0 || ts_derp_client_state(c) != TS_DERP_ST_ERROR)) abort(); /* errors are final */
    if (r < 0 && (ts_derp_client_error(c) != r || ts_derp_client_state(c) != TS_DERP_ST_ERROR)) abort();
    switch (ctl >> 5) {
    case 1: {
      uint8_t dst[32] = {1};
      size_t len = off < size ? (size_t)data[off] * 300 : 10;
      (void)ts_derp_client_send_packet(c, dst, pkt, len);
      break;
    }
    case 2: (void)ts_derp_client_send_ping(c, NULL, now); break;
    case 3: (void)ts_derp_client_note_preferred(c, ctl & 1); break;
    case 4: now += (uint64_t)(ctl & 0x1f) * 7 * SEC; (void)ts_derp_client_tick(c, now); break;
    case 5: {
      size_t n;
      const uint8_t *p = ts_derp_client_output(c, &n);
      if (n && (!p || n > 1024 * 1024)) abort();
      ts_derp_client_output_consumed(c, n / 2 + 1);
      break;
    }
    case 6: (void)ts_derp_client_watch_conns(c); (void)ts_derp_client_close_peer(c, pkt); break;
    default: break;
    }
    if (ts_derp_client_output_pending(c) > 128 * 1024) abort();
  }
  size_t n;
  const uint8_t *p = ts_derp_client_output(c, &n);
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < n; i++) sink ^= p[i];
  (void)sink;
  ts_derp_client_free(c);
  return 0;
}
