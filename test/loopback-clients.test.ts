// Clients that cannot take a socket (issue 15, point 7): the loopback listener's HTTP CONNECT proxy, a local
// port forwarder, and TLS options (a private CA) for fetch() and dispatcher().
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { once } from 'node:events';
import { request } from 'undici';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server, dataPlaneOf } from '../lib/server.js';

const fixtures = path.join(__dirname, 'fixtures', 'compat');
const cert = fs.readFileSync(path.join(fixtures, 'cert.pem'));
const key = fs.readFileSync(path.join(fixtures, 'key.pem'));

let devnet: Devnet;
let client: Server;
let peer: Server;

before(async () => {
  devnet = await startDevnet();
  const authKey = devnet.createAuthKey({ reusable: true });
  client = new Server({ hostname: 'lc-client', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
  peer = new Server({ hostname: 'lc-peer', controlURL: devnet.controlURL, authKey, store: new MemoryStore() });
  await Promise.all([client.up(), peer.up()]);
  while (!client.status()!.peers.some((p) => p.hostName === 'lc-peer')) await once(client, 'peers');
  peer.listen('tcp', ':80').serve(http.createServer((req, res) => res.end(`plain ${req.url}`)));
  peer.listen('tcp', ':443').serve(https.createServer({ cert, key }, (req, res) => res.end(`tls ${req.url}`)));
  // A raw echo, for the forwarder (as a database or gRPC server would be).
  peer.listen('tcp', ':7000').on('connection', (s: net.Socket) => s.pipe(s));
});

after(async () => {
  await Promise.allSettled([client.close(), peer.close()]);
  await devnet.close();
});

/** Sends a CONNECT through the loopback proxy; resolves with the status and, on 200, the tunnel socket. */
function connectVia(address: string, target: string, auth?: string): Promise<{ status: number; socket: net.Socket; head: Buffer }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method: 'CONNECT', path: target, headers: auth ? { 'Proxy-Authorization': auth } : {} });
    req.once('connect', (res, socket, head) => resolve({ status: res.statusCode ?? 0, socket, head }));
    req.once('error', reject);
    req.end();
  });
}

test('HTTP CONNECT proxy: authenticated tunnels reach a peer by MagicDNS name; wrong credentials get 407, unknown hosts 502', async () => {
  const lb = await client.loopback();
  const auth = `Basic ${Buffer.from(`tsnet:${lb.proxyCredential}`).toString('base64')}`;
  const { status, socket } = await connectVia(lb.address, 'lc-peer:80', auth);
  assert.equal(status, 200);
  socket.write('GET /through-connect HTTP/1.1\r\nHost: lc-peer\r\nConnection: close\r\n\r\n');
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  assert.match(Buffer.concat(chunks).toString(), /\r\n\r\nplain \/through-connect$/);

  const wrong = `Basic ${Buffer.from('tsnet:nope').toString('base64')}`;
  assert.equal((await connectVia(lb.address, 'lc-peer:80', wrong)).status, 407);
  assert.equal((await connectVia(lb.address, 'lc-peer:80')).status, 407);
  assert.equal((await connectVia(lb.address, 'no-such-peer:80', auth)).status, 502);
  assert.equal((await connectVia(lb.address, 'no-port-here', auth)).status, 400);
});

test('port forwarder: a plain local port reaches a tailnet service; bytes come back in order; close() stops it', async () => {
  const fwd = await client.forward('lc-peer:7000');
  assert.match(fwd.address, /^127\.0\.0\.1:\d+$/);
  const s = net.connect(fwd.port, '127.0.0.1');
  const payload = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => i % 251));
  s.end(payload);
  const got: Buffer[] = [];
  for await (const c of s) got.push(c as Buffer);
  assert.ok(Buffer.concat(got).equals(payload));
  await fwd.close();
  const refused = net.connect(fwd.port, '127.0.0.1');
  const [err] = (await once(refused, 'error')) as [Error & { code?: string }];
  assert.equal(err.code, 'ECONNREFUSED');
  await assert.rejects(client.forward('no-port'), { name: 'TypeError' });
  await assert.rejects(client.forward('lc-peer:7000', { port: 70000 }), { code: 'ERR_OUT_OF_RANGE' });
});

test('fetch() and dispatcher() take TLS options: a private CA is trusted only where it is given', async () => {
  const ip = client.status()!.peers.find((p) => p.hostName === 'lc-peer')!.tailscaleIPs[0]!;
  // Without the CA, the self-signed certificate is refused, with the TLS error's code on the error itself.
  await assert.rejects(client.fetch(`https://${ip}/`), (e: Error & { code?: string }) => /CERT|SELF_SIGNED/.test(e.code ?? ''));
  const tlsOptions = { ca: cert, servername: 'compat.test' };
  const res = await client.fetch(`https://${ip}/ca`, { tls: tlsOptions });
  assert.equal(await res.text(), 'tls /ca');
  const d = client.dispatcher({ tls: tlsOptions });
  try {
    const r = await request(`https://${ip}/dispatcher`, { dispatcher: d });
    assert.equal(await r.body.text(), 'tls /dispatcher');
  } finally {
    await d.close();
  }
});

test('metrics: Prometheus text from metrics() and the LocalAPI, with per-peer traffic and path', async () => {
  const res = await client.fetch('http://lc-peer/metrics-traffic');
  assert.equal(await res.text(), 'plain /metrics-traffic');
  const text = client.metrics();
  assert.match(text, /^# HELP tailscaled_health_messages /m);
  assert.match(text, /^tailscaled_health_messages\{type="warning"\} 0$/m);
  assert.match(text, /^tsnet_backend_running 1$/m);
  const rx = /^tsnet_peer_received_bytes_total\{peer="lc-peer"\} (\d+)$/m.exec(text);
  assert.ok(rx && Number(rx[1]) > 0, text);
  assert.match(text, /^tsnet_wireguard_dropped_packets_total\{reason="badType"\} \d+$/m);
  const lb = await client.loopback();
  const api = await fetch(`http://${lb.address}/localapi/v0/usermetrics`, {
    headers: { 'Sec-Tailscale': 'localapi', Authorization: `Basic ${Buffer.from(`:${lb.localAPICredential}`).toString('base64')}` },
  });
  assert.equal(api.status, 200);
  assert.match(api.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(await api.text(), /^tsnet_peers\{path="(direct|relay)"\} \d+$/m);
});

test('ping(): a TSMP ping through the tunnel to a peer by name answers with its key and the round trip; errors are coded', async () => {
  const r = await client.ping('lc-peer');
  const st = client.status()!.peers.find((p) => p.hostName === 'lc-peer')!;
  assert.equal(r.publicKey, st.publicKey);
  assert.equal(r.ip, st.tailscaleIPs[0]);
  assert.ok(r.dnsName.startsWith('lc-peer.'), r.dnsName);
  assert.ok(r.latencyMs > 0 && r.latencyMs < 5000, String(r.latencyMs));
  assert.ok(r.direct !== '' || r.relay !== '', JSON.stringify(r));
  const v6 = await client.ping(st.tailscaleIPs[1]!);
  assert.equal(v6.publicKey, st.publicKey);
  await assert.rejects(client.ping('no-such-peer'), { code: 'ENOTFOUND' });
  await assert.rejects(client.ping('100.100.100.100'), { code: 'EHOSTUNREACH' });
  await assert.rejects(client.ping('lc-peer', { signal: AbortSignal.abort() }), { code: 'ABORT_ERR' });
  await assert.rejects(client.ping('lc-peer', { timeout: -1 }), { code: 'ERR_OUT_OF_RANGE' });
});

test('a TSMP ping carries our disco key after it, as Tailscale sends it (capability 144); the peer finds the key it had', async () => {
  const counters = () => dataPlaneOf(peer)!.stack.device.magicsockStats().counters;
  const before = counters();
  await client.ping('lc-peer');
  // The second ping left after the first one's advertisement on the same path: its answer means the peer has
  // handled that advertisement too.
  await client.ping('lc-peer');
  const after = counters();
  assert.equal(after.tsmpPing - before.tsmpPing, 2);
  assert.ok(after.tsmpDiscoUnchanged - before.tsmpDiscoUnchanged >= 1, JSON.stringify({ before, after }));
  assert.equal(after.tsmpBad, before.tsmpBad);
  assert.equal(after.tsmpDiscoApplied, before.tsmpDiscoApplied, 'the key control named is the one advertised');
});
