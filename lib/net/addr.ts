// Parsing of the network/address pairs that dial and listen take, in Go's style ("tcp", "100.64.0.1:80").
import * as net from 'node:net';

export type TcpNetwork = 'tcp' | 'tcp4' | 'tcp6';
export type UdpNetwork = 'udp' | 'udp4' | 'udp6';
export type Network = TcpNetwork | UdpNetwork;

export interface HostPort {
  host: string; // '' means any address (listen only)
  port: number;
}

/** Splits "host:port", "[v6]:port" or ":port". Throws TypeError/RangeError on malformed input. */
export function splitHostPort(address: string): HostPort {
  if (typeof address !== 'string') throw new TypeError(`address must be a string like "100.64.0.1:80", got ${typeof address}`);
  let host: string;
  let portText: string;
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    if (end < 0 || address[end + 1] !== ':') throw new TypeError(`malformed address "${address}": expected "[v6]:port"`);
    host = address.slice(1, end);
    portText = address.slice(end + 2);
  } else {
    const i = address.lastIndexOf(':');
    if (i < 0) throw new TypeError(`malformed address "${address}": missing ":port"`);
    host = address.slice(0, i);
    portText = address.slice(i + 1);
    if (host.includes(':')) throw new TypeError(`malformed address "${address}": IPv6 hosts need brackets, "[${host}]:${portText}"`);
  }
  if (!/^\d{1,5}$/.test(portText)) throw new TypeError(`malformed port in "${address}"`);
  const port = Number(portText);
  if (port > 65535) throw new RangeError(`port ${port} out of range 0..65535 in "${address}"`);
  return { host, port };
}

export function checkNetwork(network: string, allowed: readonly string[]): void {
  if (!allowed.includes(network)) {
    throw new TypeError(`unsupported network "${network}": expected one of ${allowed.map((n) => `"${n}"`).join(', ')}`);
  }
}

/** The family a network name restricts to: 0 (either), 4 or 6. */
export function networkFamily(network: string): 0 | 4 | 6 {
  return network.endsWith('4') ? 4 : network.endsWith('6') ? 6 : 0;
}

export function ipFamily(host: string): 0 | 4 | 6 {
  const v = net.isIP(host);
  return v === 4 ? 4 : v === 6 ? 6 : 0;
}
