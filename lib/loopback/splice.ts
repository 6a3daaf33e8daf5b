// Joins a local connection to a tailnet one, for the SOCKS5 and HTTP CONNECT proxies and the port forwarder.
import type * as net from 'node:net';

/**
 * Copies both ways with backpressure (pipe), passing half-closes along (a client may shut down its sending
 * side and still read the answer). When one side closes before both directions finished, the other is torn
 * down too.
 */
export function splice(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  const onClose = (self: net.Socket, other: net.Socket) => () => {
    if (!(self.readableEnded && self.writableFinished)) other.destroy();
  };
  a.once('close', onClose(a, b));
  b.once('close', onClose(b, a));
}
