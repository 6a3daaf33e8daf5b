/* Sockets as the engine uses them, spelled once for POSIX and for Windows (docs/build.md, "Windows
 * (win32-x64)"); port/clock.h has the clocks. On POSIX it is the system headers and a few inline functions.
 * On Windows it maps the BSD socket calls the engine makes onto Winsock: sockets stay `int` (a
 * SOCKET is a kernel handle, whose value fits in 32 bits), and every wrapped call sets errno from
 * WSAGetLastError() on failure, so the callers' errno checks hold on both. No descriptor-based transport is
 * available there: socketpair() fails with ENOTSUP, which dial and the relay connection report as such.
 * Winsock is initialised by libuv (the engine's loop) and by the host before any socket is made. */
#ifndef TS_PORT_SOCK_H
#define TS_PORT_SOCK_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h> /* struct cmsghdr, MSG_TRUNC, SIO_UDP_CONNRESET */
#include <windows.h>
#include <io.h>
#include <sys/types.h> /* ssize_t */

/* The errno value for a Winsock error (WSAGetLastError). */
static inline int ts_port_wsa_errno(int wsa) {
  switch (wsa) {
  case WSAEWOULDBLOCK: return EAGAIN;
  case WSAEINTR: return EINTR;
  case WSAEMSGSIZE: return EMSGSIZE;
  case WSAECONNRESET: return ECONNRESET;
  case WSAECONNREFUSED: return ECONNREFUSED;
  case WSAECONNABORTED: return ECONNABORTED;
  case WSAEADDRINUSE: return EADDRINUSE;
  case WSAEADDRNOTAVAIL: return EADDRNOTAVAIL;
  case WSAEAFNOSUPPORT: return EAFNOSUPPORT;
  case WSAENETUNREACH: return ENETUNREACH;
  case WSAENETDOWN: return ENETDOWN;
  case WSAEHOSTUNREACH: return EHOSTUNREACH;
  case WSAENOBUFS: return ENOBUFS;
  case WSAEACCES: return EACCES;
  case WSAEINVAL: return EINVAL;
  case WSAEFAULT: return EFAULT;
  case WSAENOTSOCK: return EBADF;
  case WSAEMFILE: return EMFILE;
  case WSAETIMEDOUT: return ETIMEDOUT;
  case WSAEOPNOTSUPP: return EOPNOTSUPP;
  case WSAENOTCONN: return ENOTCONN;
  default: return EIO;
  }
}

/* A Winsock call's result, with errno set when it failed. */
static inline int ts_port_wsa_ret(int r) {
  if (r == SOCKET_ERROR) errno = ts_port_wsa_errno(WSAGetLastError());
  return r;
}

static inline int ts_port_socket(int domain, int type, int proto) {
  /* Not inherited by child processes, as SOCK_CLOEXEC does on POSIX. */
  SOCKET s = WSASocketW(domain, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) {
    errno = ts_port_wsa_errno(WSAGetLastError());
    return -1;
  }
  return (int)s;
}

/* The wrappers are function-like macros named as the calls, for the C core only: C++ (the addon) has methods
 * and std:: functions with these names, and a C file calling a struct member named send() or bind() must
 * not include this header (the clocks are apart in port/clock.h for that reason). */
#ifndef __cplusplus
#define socket(d, t, p) ts_port_socket(d, t, p)
#define bind(s, a, l) ts_port_wsa_ret(bind((SOCKET)(s), a, (int)(l)))
#define getsockname(s, a, l) ts_port_wsa_ret(getsockname((SOCKET)(s), a, l))
#define setsockopt(s, l, o, v, n) ts_port_wsa_ret(setsockopt((SOCKET)(s), l, o, (const char *)(v), (int)(n)))
#define getsockopt(s, l, o, v, n) ts_port_wsa_ret(getsockopt((SOCKET)(s), l, o, (char *)(v), n))
#define connect(s, a, l) ts_port_wsa_ret(connect((SOCKET)(s), a, (int)(l)))
#define send(s, b, n, f) ts_port_wsa_ret(send((SOCKET)(s), (const char *)(b), (int)(n), f))
#define recv(s, b, n, f) ts_port_wsa_ret(recv((SOCKET)(s), (char *)(b), (int)(n), f))
#define shutdown(s, h) ts_port_wsa_ret(shutdown((SOCKET)(s), h))
#endif
#define SHUT_WR SD_SEND
#define MSG_NOSIGNAL 0 /* Winsock raises no SIGPIPE */
#define MSG_DONTWAIT 0 /* the engine's sockets are non-blocking already */
#define SOCK_CLOEXEC 0 /* ts_port_socket's sockets are never inherited */

/* No socketpair on Windows: the descriptor transport (tcp_bridge.c, derp_conn.c) is not available. */
static inline int ts_port_socketpair(int d, int t, int p, int sv[2]) {
  (void)d, (void)t, (void)p;
  sv[0] = sv[1] = -1;
  errno = ENOTSUP;
  return -1;
}
#define socketpair(d, t, p, sv) ts_port_socketpair(d, t, p, sv)

struct iovec {
  void *iov_base;
  size_t iov_len;
};
/* Unreachable without a socketpair; declared so the descriptor transport compiles. */
static inline ssize_t ts_port_writev(int fd, const struct iovec *iov, int n) {
  (void)fd, (void)iov, (void)n;
  errno = ENOTSUP;
  return -1;
}
#define writev(fd, iov, n) ts_port_writev(fd, iov, n)

/* fcntl(F_GETFL) / fcntl(F_SETFL, fl | O_NONBLOCK) on a socket: the one use the engine makes of it. */
#define F_GETFL 3
#define F_SETFL 4
#ifndef O_NONBLOCK
#define O_NONBLOCK 0x4000
#endif
static inline int ts_port_fcntl(int fd, int cmd, int arg) {
  u_long on = (arg & O_NONBLOCK) != 0;
  if (cmd == F_GETFL) return 0;
  return ts_port_wsa_ret(ioctlsocket((SOCKET)fd, FIONBIO, &on));
}
#define TS_PORT_FCNTL3(fd, cmd, arg, ...) ts_port_fcntl(fd, cmd, arg)
#define fcntl(...) TS_PORT_FCNTL3(__VA_ARGS__, 0, 0)

/* One datagram per call: Winsock has no sendmsg, and recvmsg (WSARecvMsg) only through an extension
 * pointer. Enough of struct msghdr for net/udp.c's portable path (one iovec, no control data). */
struct msghdr {
  void *msg_name;
  socklen_t msg_namelen;
  struct iovec *msg_iov;
  size_t msg_iovlen;
  void *msg_control;
  size_t msg_controllen;
  int msg_flags;
};

static inline ssize_t ts_port_sendmsg(int fd, const struct msghdr *m, int flags) {
  if (m->msg_iovlen != 1) {
    errno = EINVAL;
    return -1;
  }
  int r = sendto((SOCKET)fd, (const char *)m->msg_iov[0].iov_base, (int)m->msg_iov[0].iov_len, flags,
                 (const struct sockaddr *)m->msg_name, (int)m->msg_namelen);
  return ts_port_wsa_ret(r);
}

/* A datagram larger than the buffer fails with WSAEMSGSIZE after filling the buffer: that is MSG_TRUNC. */
static inline ssize_t ts_port_recvmsg(int fd, struct msghdr *m, int flags) {
  int namelen = (int)m->msg_namelen;
  if (m->msg_iovlen != 1) {
    errno = EINVAL;
    return -1;
  }
  m->msg_flags = 0;
  m->msg_controllen = 0;
  int r = recvfrom((SOCKET)fd, (char *)m->msg_iov[0].iov_base, (int)m->msg_iov[0].iov_len, flags,
                   (struct sockaddr *)m->msg_name, &namelen);
  if (r == SOCKET_ERROR && WSAGetLastError() == WSAEMSGSIZE) {
    m->msg_flags = MSG_TRUNC;
    r = (int)m->msg_iov[0].iov_len;
  } else if (r == SOCKET_ERROR) {
    return ts_port_wsa_ret(r);
  }
  m->msg_namelen = (socklen_t)namelen;
  return r;
}
#define sendmsg(fd, m, f) ts_port_sendmsg(fd, m, f)
#define recvmsg(fd, m, f) ts_port_recvmsg(fd, m, f)

static inline int ts_sock_close(int fd) { return ts_port_wsa_ret(closesocket((SOCKET)fd)); }

/* Non-blocking (never inherited: ts_port_socket made it so). */
static inline int ts_sock_nonblock(int fd) {
  u_long on = 1;
  return ts_port_wsa_ret(ioctlsocket((SOCKET)fd, FIONBIO, &on));
}
/* UDP: no WSAECONNRESET from a later receive after an ICMP port unreachable (POSIX reports that only on
 * connected sockets). */
static inline void ts_sock_udp_setup(int fd) {
  BOOL off = FALSE;
  DWORD n = 0;
  (void)WSAIoctl((SOCKET)fd, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &n, NULL, NULL);
}

#else /* POSIX */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static inline int ts_sock_close(int fd) { return close(fd); }
/* Non-blocking and close-on-exec (where socket() could not do both at once). */
static inline int ts_sock_nonblock(int fd) {
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}
static inline void ts_sock_udp_setup(int fd) { (void)fd; }

#endif

#endif /* TS_PORT_SOCK_H */
