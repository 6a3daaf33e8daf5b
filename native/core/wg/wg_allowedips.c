/* Path-compressed binary trie over 128-bit keys (IPv4 keys use the top 32 bits). Each node holds a prefix
 * (key, cidr); children extend it by at least one bit. Nodes without an owner exist only as branch points
 * with two children, so the trie has at most 2n-1 nodes for n prefixes. */
#include "wg_allowedips.h"

#include <stdlib.h>
#include <string.h>

struct ts_wg_aip_node {
  uint64_t hi, lo; /* key, bits beyond cidr zero */
  unsigned cidr;
  void *owner;
  ts_wg_aip_node *child[2];
};

typedef struct { uint64_t hi, lo; } key128;

static key128 load_key(int family, const uint8_t *a) {
  key128 k = {0, 0};
  int n = family == 4 ? 4 : 16;
  for (int i = 0; i < n && i < 8; i++) k.hi |= (uint64_t)a[i] << (56 - 8 * i);
  for (int i = 8; i < n; i++) k.lo |= (uint64_t)a[i] << (56 - 8 * (i - 8));
  return k;
}

static key128 mask_key(key128 k, unsigned cidr) {
  if (cidr == 0) k.hi = 0, k.lo = 0;
  else if (cidr < 64) k.hi &= ~0ULL << (64 - cidr), k.lo = 0;
  else if (cidr == 64) k.lo = 0;
  else if (cidr < 128) k.lo &= ~0ULL << (128 - cidr);
  return k;
}

static unsigned bit_at(key128 k, unsigned i) {
  return i < 64 ? (unsigned)(k.hi >> (63 - i)) & 1 : (unsigned)(k.lo >> (127 - i)) & 1;
}

/* Number of leading bits a and b share. */
static unsigned common_bits(key128 a, key128 b) {
  uint64_t x = a.hi ^ b.hi;
  if (x) return (unsigned)__builtin_clzll(x);
  x = a.lo ^ b.lo;
  return x ? 64 + (unsigned)__builtin_clzll(x) : 128;
}

static int node_contains(const ts_wg_aip_node *n, key128 k) {
  key128 m = mask_key(k, n->cidr);
  return m.hi == n->hi && m.lo == n->lo;
}

void ts_wg_aip_init(ts_wg_allowedips *t) { memset(t, 0, sizeof *t); }

static void free_tree(ts_wg_aip_node *n) {
  if (!n) return;
  free_tree(n->child[0]);
  free_tree(n->child[1]);
  free(n);
}

void ts_wg_aip_free(ts_wg_allowedips *t) {
  free_tree(t->root4);
  free_tree(t->root6);
  memset(t, 0, sizeof *t);
}

static ts_wg_aip_node *new_node(key128 k, unsigned cidr, void *owner) {
  ts_wg_aip_node *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  k = mask_key(k, cidr);
  n->hi = k.hi, n->lo = k.lo, n->cidr = cidr, n->owner = owner;
  return n;
}

static int valid(int family, const uint8_t *addr, unsigned cidr) {
  return addr && ((family == 4 && cidr <= 32) || (family == 6 && cidr <= 128));
}

int ts_wg_aip_insert(ts_wg_allowedips *t, int family, const uint8_t *addr, unsigned cidr, void *owner) {
  if (!valid(family, addr, cidr) || !owner) return -1;
  key128 k = mask_key(load_key(family, addr), cidr);
  ts_wg_aip_node **slot = family == 4 ? &t->root4 : &t->root6;
  for (;;) {
    ts_wg_aip_node *n = *slot;
    if (!n) {
      if (!(*slot = new_node(k, cidr, owner))) return -1;
      t->count++;
      return 0;
    }
    key128 nk = {n->hi, n->lo};
    unsigned common = common_bits(k, nk);
    if (common > cidr) common = cidr;
    if (common > n->cidr) common = n->cidr;
    if (common == n->cidr && n->cidr == cidr) { /* same prefix: (re)assign */
      if (!n->owner) t->count++;
      n->owner = owner;
      return 0;
    }
    if (common == n->cidr) { /* n is a proper prefix of the new key: descend */
      slot = &n->child[bit_at(k, n->cidr)];
      continue;
    }
    if (common == cidr) { /* the new prefix contains n: insert above it */
      ts_wg_aip_node *m = new_node(k, cidr, owner);
      if (!m) return -1;
      m->child[bit_at(nk, cidr)] = n;
      *slot = m;
      t->count++;
      return 0;
    }
    /* They diverge at bit `common`: a branch node holding both. */
    ts_wg_aip_node *leaf = new_node(k, cidr, owner);
    ts_wg_aip_node *branch = new_node(k, common, NULL);
    if (!leaf || !branch) {
      free(leaf);
      free(branch);
      return -1;
    }
    branch->child[bit_at(k, common)] = leaf;
    branch->child[bit_at(nk, common)] = n;
    *slot = branch;
    t->count++;
    return 0;
  }
}

/* After a node lost its owner or a child: drop it if it has no owner and fewer than two children. */
static void compact(ts_wg_aip_node **slot) {
  ts_wg_aip_node *n = *slot;
  if (!n || n->owner) return;
  if (n->child[0] && n->child[1]) return;
  *slot = n->child[0] ? n->child[0] : n->child[1];
  free(n);
}

int ts_wg_aip_remove(ts_wg_allowedips *t, int family, const uint8_t *addr, unsigned cidr, void *owner) {
  if (!valid(family, addr, cidr)) return 0;
  key128 k = mask_key(load_key(family, addr), cidr);
  ts_wg_aip_node **slot = family == 4 ? &t->root4 : &t->root6, **parent = NULL;
  while (*slot) {
    ts_wg_aip_node *n = *slot;
    if (n->cidr > cidr || !node_contains(n, k)) return 0;
    if (n->cidr == cidr) {
      if (!n->owner || (owner && n->owner != owner)) return 0;
      n->owner = NULL;
      t->count--;
      compact(slot);
      if (parent) compact(parent);
      return 1;
    }
    parent = slot;
    slot = &n->child[bit_at(k, n->cidr)];
  }
  return 0;
}

static void remove_owner(ts_wg_allowedips *t, ts_wg_aip_node **slot, void *owner) {
  ts_wg_aip_node *n = *slot;
  if (!n) return;
  remove_owner(t, &n->child[0], owner);
  remove_owner(t, &n->child[1], owner);
  if (n->owner == owner) {
    n->owner = NULL;
    t->count--;
  }
  compact(slot);
}

void ts_wg_aip_remove_owner(ts_wg_allowedips *t, void *owner) {
  if (!owner) return;
  remove_owner(t, &t->root4, owner);
  remove_owner(t, &t->root6, owner);
}

void *ts_wg_aip_lookup(const ts_wg_allowedips *t, int family, const uint8_t *addr) {
  if (!addr || (family != 4 && family != 6)) return NULL;
  key128 k = load_key(family, addr);
  const ts_wg_aip_node *n = family == 4 ? t->root4 : t->root6;
  void *best = NULL;
  while (n && node_contains(n, k)) {
    if (n->owner) best = n->owner;
    if (n->cidr >= (family == 4 ? 32u : 128u)) break;
    n = n->child[bit_at(k, n->cidr)];
  }
  return best;
}

static void walk(const ts_wg_aip_node *n, int family, void *owner,
                 void (*fn)(void *ctx, int family, const uint8_t *addr, unsigned cidr), void *ctx) {
  if (!n) return;
  if (n->owner == owner) {
    uint8_t a[16];
    for (int i = 0; i < 8; i++) a[i] = (uint8_t)(n->hi >> (56 - 8 * i));
    for (int i = 0; i < 8; i++) a[8 + i] = (uint8_t)(n->lo >> (56 - 8 * i));
    fn(ctx, family, a, n->cidr);
  }
  walk(n->child[0], family, owner, fn, ctx);
  walk(n->child[1], family, owner, fn, ctx);
}

void ts_wg_aip_walk(const ts_wg_allowedips *t, void *owner,
                    void (*fn)(void *ctx, int family, const uint8_t *addr, unsigned cidr), void *ctx) {
  walk(t->root4, 4, owner, fn, ctx);
  walk(t->root6, 6, owner, fn, ctx);
}

int ts_wg_ip_addr(const uint8_t *pkt, size_t len, int src, const uint8_t **addr) {
  if (len < 1) return 0;
  switch (pkt[0] >> 4) {
  case 4:
    if (len < 20) return 0;
    *addr = pkt + (src ? 12 : 16);
    return 4;
  case 6:
    if (len < 40) return 0;
    *addr = pkt + (src ? 8 : 24);
    return 6;
  default: return 0;
  }
}

size_t ts_wg_ip_len(const uint8_t *pkt, size_t len) {
  if (len < 1) return 0;
  size_t n;
  switch (pkt[0] >> 4) {
  case 4:
    if (len < 20) return 0;
    n = (size_t)pkt[2] << 8 | pkt[3];
    if (n < (size_t)(pkt[0] & 15) * 4 || n < 20) return 0;
    break;
  case 6:
    if (len < 40) return 0;
    n = 40 + ((size_t)pkt[4] << 8 | pkt[5]);
    break;
  default: return 0;
  }
  return n <= len ? n : 0;
}
