#include "mem/pages.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

void *ts_pages_alloc(size_t len) {
  if (len == 0) return NULL;
  return VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

void ts_pages_free(void *p, size_t len) {
  (void)len;
  if (p) VirtualFree(p, 0, MEM_RELEASE);
}
#else
#include <sys/mman.h>

void *ts_pages_alloc(size_t len) {
  if (len == 0) return NULL;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void ts_pages_free(void *p, size_t len) {
  if (p) munmap(p, len);
}
#endif
