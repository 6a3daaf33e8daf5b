/* Clocks, spelled once for POSIX (clock_gettime) and Windows (docs/build.md, "Windows (win32-x64)"). */
#ifndef TS_PORT_CLOCK_H
#define TS_PORT_CLOCK_H

#include <stdint.h>

#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

/* Monotonic nanoseconds (QueryPerformanceCounter). */
static inline uint64_t ts_port_mono_ns(void) {
  LARGE_INTEGER f, c;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&c);
  uint64_t fq = (uint64_t)f.QuadPart, ct = (uint64_t)c.QuadPart;
  return ct / fq * 1000000000u + ct % fq * 1000000000u / fq;
}

/* Nanoseconds since the Unix epoch. */
static inline uint64_t ts_port_wall_ns(void) {
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  uint64_t t = (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime; /* 100 ns since 1601 */
  return (t - 116444736000000000u) * 100u;
}

#else /* POSIX */

#include <time.h>

static inline uint64_t ts_port_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ts_port_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif

#endif /* TS_PORT_CLOCK_H */
