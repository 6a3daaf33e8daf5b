// Listening before the node is up, as Go's tsnet does since v1.80 (its Listen starts the node and waits):
// listen() and listenPacket() hand out a listener at once, which binds when the node's data plane exists
// ('listening' then) or fails with 'error' and 'close' when the node cannot come up (docs/api.md,
// "Lifecycle"). dial() simply waits for up() first.
import type { Device } from '../net/device.js';
import { checkNetwork, ipFamily, networkFamily, splitHostPort } from '../net/addr.js';
import { TailnetListener } from '../net/listener.js';
import type { ListenOptions, Netstack } from '../net/netstack.js';
import { TailnetPacketSocket } from '../net/packet.js';

// A pending listener has no device yet: nothing reads it before bindLate() replaces the whole init.
const NO_DEVICE = null as unknown as Device;

/** A TCP listener that binds on `stack` once `ready` resolves. Malformed arguments throw now. */
export function pendingListen(ready: Promise<unknown>, stack: () => Netstack, network: string, address: string, opts: ListenOptions): TailnetListener {
  const net = network === '' ? 'tcp' : network;
  checkNetwork(net, ['tcp', 'tcp4', 'tcp6']);
  const { host, port } = splitHostPort(address);
  const family = host && host !== '0.0.0.0' && host !== '::' ? ipFamily(host) : networkFamily(net);
  if (host && !ipFamily(host)) throw new TypeError(`listen address must be an IP literal of this node or empty, got "${host}"`);
  const ln = new TailnetListener({ device: NO_DEVICE, id: 0, host, family, port }, true);
  ready.then(
    () => {
      try {
        stack().listen(network, address, opts, ln);
      } catch (err) {
        ln.failLate(err as Error);
      }
    },
    (err: unknown) => ln.failLate(err as Error),
  );
  return ln;
}

/** A UDP socket that binds on `stack` once `ready` resolves; sends before that wait for it. */
export function pendingListenPacket(ready: Promise<unknown>, stack: () => Netstack, network: string, address: string): TailnetPacketSocket {
  checkNetwork(network, ['udp', 'udp4', 'udp6']);
  const { host, port } = splitHostPort(address);
  const sock = new TailnetPacketSocket({ device: NO_DEVICE, id: 0, family: ipFamily(host), host, port }, true);
  ready.then(
    () => {
      try {
        stack().listenPacket(network, address, sock);
      } catch (err) {
        sock.failLate(err as Error);
      }
    },
    (err: unknown) => sock.failLate(err as Error),
  );
  return sock;
}
