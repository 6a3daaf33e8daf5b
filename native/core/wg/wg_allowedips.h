/* AllowedIPs: longest-prefix match from an IP address to a peer, one path-compressed binary trie per
 * family. Used for outbound routing (destination -> peer) and the inbound source check (source -> must be
 * the sending peer). Lookups do not allocate; inserts allocate a node or two (control path only).
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are IPv6 keys: they never match an IPv4 prefix. */
#ifndef TS_WG_ALLOWEDIPS_H
#define TS_WG_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ts_wg_aip_node ts_wg_aip_node;

typedef struct ts_wg_allowedips {
  ts_wg_aip_node *root4, *root6;
  size_t count; /* prefixes with an owner */
} ts_wg_allowedips;

void ts_wg_aip_init(ts_wg_allowedips *t);
void ts_wg_aip_free(ts_wg_allowedips *t);
/* addr is 4 (family 4) or 16 (family 6) bytes in network order; bits beyond cidr are ignored.
 * Inserting an existing prefix moves it to owner. 0 ok, -1 bad arguments or out of memory. */
int ts_wg_aip_insert(ts_wg_allowedips *t, int family, const uint8_t *addr, unsigned cidr, void *owner);
/* Removes the prefix if owner holds it (owner NULL: whoever holds it). 1 removed, 0 not present. */
int ts_wg_aip_remove(ts_wg_allowedips *t, int family, const uint8_t *addr, unsigned cidr, void *owner);
/* Removes every prefix held by owner. */
void ts_wg_aip_remove_owner(ts_wg_allowedips *t, void *owner);
/* Owner of the longest prefix containing addr, or NULL. */
void *ts_wg_aip_lookup(const ts_wg_allowedips *t, int family, const uint8_t *addr);
/* Calls fn for each prefix of owner (addr in network order, 16 bytes with the first 4 used for IPv4). */
void ts_wg_aip_walk(const ts_wg_allowedips *t, void *owner,
                    void (*fn)(void *ctx, int family, const uint8_t *addr, unsigned cidr), void *ctx);

/* Source (src=1) or destination address of an IPv4/IPv6 packet; returns the family (4 or 6) and sets *addr
 * to point into the packet, or 0 when the packet is too short or not IP. */
int ts_wg_ip_addr(const uint8_t *pkt, size_t len, int src, const uint8_t **addr);
/* Length the IP header claims for the whole packet (IPv4 total length, IPv6 40 + payload length), or 0 when
 * the header is malformed or claims more than len bytes. */
size_t ts_wg_ip_len(const uint8_t *pkt, size_t len);

#endif
