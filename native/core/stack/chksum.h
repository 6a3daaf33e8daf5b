/* The Internet checksum's ones' complement sum (RFC 1071) for lwIP's LWIP_CHKSUM hook (lwipopts.h).
 * docs/performance.md, "The direct path per byte", has the measurements. */
#ifndef TS_STACK_CHKSUM_H
#define TS_STACK_CHKSUM_H

#include <stdint.h>

/* The folded, not inverted, 16-bit sum of len bytes at data (any alignment), as lwIP's own
 * lwip_standard_chksum returns it: summed as 16-bit words in memory order, so the value is ready to be
 * stored into a header as is on either byte order. len <= 0 gives 0. */
uint16_t ts_chksum(const void *data, int len);

#endif
