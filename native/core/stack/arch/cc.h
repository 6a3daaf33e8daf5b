/* lwIP architecture port for tsnet (Linux/macOS/Windows with a C11 compiler). */
#ifndef TS_LWIP_ARCH_CC_H
#define TS_LWIP_ARCH_CC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LWIP_NO_UNISTD_H 0
/* A CSPRNG (sys_arch.c): lwIP draws ephemeral ports from it; rand() gave every process the same ones. */
uint32_t ts_stack_rand(void);
#define LWIP_RAND() ts_stack_rand()
/* lwIP asserts are programming errors in our glue; report and abort in debug builds only. */
#define LWIP_PLATFORM_DIAG(x) do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { fprintf(stderr, "lwIP assertion: %s (%s:%d)\n", x, __FILE__, __LINE__); abort(); } while (0)
#ifdef __APPLE__
#include <machine/endian.h> /* BYTE_ORDER, LITTLE_ENDIAN */
#elif !defined(_WIN32) /* Windows has no endian.h; lwIP's arch.h then defaults to little-endian, as Windows is */
#include <endian.h> /* BYTE_ORDER, LITTLE_ENDIAN */
#endif

#endif
