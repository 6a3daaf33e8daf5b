/* macOS spellings of the Linux socket calls the engine and the addon make. Included first in every
 * file of the addon's own target on macOS (binding.gyp, OS=='mac': -include port/darwin.h), so the shared
 * sources keep their Linux calls (docs/build.md, "Prebuilt binaries").
 * - socketpair(2) takes no SOCK_CLOEXEC: the flag is this header's own bit, and the wrapper sets
 *   FD_CLOEXEC on both ends after the call. A thread that forks in between leaks the two descriptors into
 *   its child: the same window libuv (and so Node) has on macOS for its own socketpairs and pipes. Both
 *   ends also get SO_NOSIGPIPE, so a write to a closed peer fails with EPIPE instead of raising SIGPIPE
 *   even where a host does not ignore it.
 * - MSG_NOSIGNAL is in macOS's <sys/socket.h>; SO_NOSIGPIPE above covers the kernels that ignore it. */
#ifndef TS_PORT_DARWIN_H
#define TS_PORT_DARWIN_H
#ifdef __APPLE__

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0x10000000 /* above every SOCK_* type macOS defines */
#endif

static inline int ts_darwin_socketpair(int domain, int type, int protocol, int fds[2]) {
  int one = 1, err;
  if (socketpair(domain, type & ~SOCK_CLOEXEC, protocol, fds) != 0) return -1;
  for (int i = 0; i < 2; i++) {
    if (((type & SOCK_CLOEXEC) && fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) ||
        setsockopt(fds[i], SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) != 0) {
      err = errno;
      close(fds[0]);
      close(fds[1]);
      fds[0] = fds[1] = -1;
      errno = err;
      return -1;
    }
  }
  return 0;
}
#define socketpair(d, t, p, fds) ts_darwin_socketpair(d, t, p, fds)

#endif /* __APPLE__ */
#endif /* TS_PORT_DARWIN_H */
