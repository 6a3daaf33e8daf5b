/* Large buffers straight from the kernel (mmap): zero-filled, resident only once touched, returned to the
 * system when freed. For per-device I/O buffers (the UDP batches, packet scratch): with malloc, on the
 * main thread's heap, idle devices cost about 240 KiB of resident memory each instead of about 70
 * (docs/performance.md, "Memory"). */
#ifndef TS_MEM_PAGES_H
#define TS_MEM_PAGES_H

#include <stddef.h>

/* NULL on failure. */
void *ts_pages_alloc(size_t len);
/* p may be NULL; len must be what ts_pages_alloc was given. */
void ts_pages_free(void *p, size_t len);

#endif
