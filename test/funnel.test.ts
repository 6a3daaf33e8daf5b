// Funnel: server.listenFunnel (Go's ListenFunnel) reached by a public TLS client through the devnet's Funnel
// ingress on loopback, which reads the ClientHello's server name and delivers the connection to the node's
// peerAPI ingress handler over the tailnet. The funnel node's certificate is a self-signed one made here.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { startDevnet, parseClientHello, type Devnet, type FunnelIngress } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';
import { nodeCertificate } from '../lib/server/funnel-cert.js';
import { DevnetState } from '../lib/devnet/state.js';
import { ingressRules, setIngressNode, withFunnelAttrs } from '../lib/devnet/funnel-grants.js';
import type { Node } from '../lib/wire/tailcfg.js';
import { selfSigned } from './fixtures/self-signed.js';

const POLICY = {
  acls: [{ action: 'accept' as const, src: ['*'], dst: ['*:*'] }],
  nodeAttrs: [{ target: ['autogroup:member'], attr: ['funnel'] }],
  tagOwners: { 'tag:plain': ['autogroup:member'] },
};
// Tagged nodes are not autogroup:member: "plain" has no funnel attribute.

let devnet: Devnet;
let web: Server;
let plain: Server;
let ingressNode: Server;
let ingress: FunnelIngress;
let webName: string;
let key: string;
let cert: string;

before(async () => {
  // The devnet's ACME server gives the nodes their own certificates (no test may reach a public ACME server).
  devnet = await startDevnet({ policy: POLICY, acme: true });
  const authKey = devnet.createAuthKey({ reusable: true });
  const acme = { acmeDirectoryURL: devnet.acme!.directoryURL, acmeCA: devnet.acme!.caPEM };
  const mk = (hostname: string, extra: object = {}): Server =>
    new Server({ hostname, controlURL: devnet.controlURL, authKey, store: new MemoryStore(), ...acme, ...extra });
  web = mk('web');
  ingressNode = mk('funnel-ingress');
  plain = mk('plain', { authKey: devnet.createAuthKey({ reusable: true, tags: ['tag:plain'] }) });
  const [st] = await Promise.all([web.up(), ingressNode.up(), plain.up()]);
  webName = st.self.Name!.replace(/\.$/, '');
  ({ key, cert } = selfSigned(webName));
  ingress = await devnet.startFunnelIngress({ node: ingressNode });
});

after(async () => {
  await ingress?.close();
  await Promise.allSettled([web?.close(), plain?.close(), ingressNode?.close()]);
  await devnet?.close();
});

/** Control routes `name` (its Hostinfo says ingress on) and the ingress node has it as a peer (the funnel grant). */
function ingressSees(name: string): Promise<void> {
  return ingress.waitRoutable(name);
}

function publicConnect(port: number, servername: string, ca: string | Buffer = cert): Promise<tls.TLSSocket> {
  const addr = ingress.addresses[port]!;
  const [host, p] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port: p, servername, ca }, () => resolve(s));
    s.once('error', reject);
  });
}

test('a public client reaches listenFunnel through the ingress; the node sees the client address', async () => {
  const ln = await web.listenFunnel('tcp', ':443', { tlsConfig: { key, cert } });
  try {
    await ingressSees(webName);
    // The node asked control for ingress (Hostinfo) and advertises its peerAPI.
    const node = await devnet.waitFor(() => devnet.nodes().find((n) => n.name === webName));
    assert.ok(node);
    const accepted = new Promise<tls.TLSSocket>((resolve) => ln.once('connection', resolve));
    const client = await publicConnect(443, webName);
    const peerCert = client.getPeerCertificate();
    assert.equal(peerCert.subject.CN, webName, 'the client sees the certificate of tlsConfig');
    assert.ok(client.authorized, 'and it verifies against it');
    const srv = await accepted;
    assert.equal(srv.remoteAddress, client.localAddress, 'the node sees the public client address');
    assert.equal(srv.remotePort, client.localPort);
    assert.equal((srv as tls.TLSSocket & { funnel?: boolean }).funnel, true);
    // Bytes both ways, through the TLS session end to end.
    srv.on('data', (d: Buffer) => srv.write(Buffer.concat([Buffer.from('echo:'), d])));
    const payload = crypto.randomBytes(100_000).toString('hex');
    const got = new Promise<string>((resolve) => {
      let buf = '';
      client.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.replace(/echo:/g, '').length >= payload.length) resolve(buf.replace(/echo:/g, ''));
      });
    });
    client.write(payload);
    assert.equal(await got, payload);
    client.destroy();
    assert.ok(ingress.stats().delivered >= 1);

    // Without funnelOnly the tailnet reaches the same listener on the node's port 443.
    const fromTailnet = new Promise<tls.TLSSocket>((resolve) => ln.once('connection', resolve));
    const raw = await plain.dial('tcp', `${webName}:443`);
    const t = tls.connect({ socket: raw as net.Socket, servername: webName, ca: cert });
    await new Promise<void>((resolve, reject) => t.once('secureConnect', resolve).once('error', reject));
    const s2 = await fromTailnet;
    assert.equal(s2.remoteAddress, plain.tailscaleIPs().find((a) => net.isIPv4(a)));
    t.destroy();
  } finally {
    ln.close();
  }
});

test('an IPv6 public client: the node sees its [::1] address', async () => {
  const v6 = await devnet.startFunnelIngress({ node: ingressNode, host: '::1', ports: [443] });
  const ln = await web.listenFunnel('tcp', ':443', { tlsConfig: { key, cert } });
  try {
    await v6.waitRoutable(webName);
    const accepted = new Promise<tls.TLSSocket>((resolve) => ln.once('connection', resolve));
    const addr = v6.addresses[443]!;
    assert.match(addr, /^\[::1\]:\d+$/);
    const client = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ host: '::1', port: Number(addr.slice(addr.lastIndexOf(':') + 1)), servername: webName, ca: cert }, () => resolve(c));
      c.once('error', reject);
    });
    const srv = await accepted;
    assert.equal(srv.remoteAddress, '::1');
    assert.equal(srv.remoteFamily, 'IPv6');
    assert.equal(srv.remotePort, client.localPort);
    client.destroy();
  } finally {
    ln.close();
    await v6.close();
  }
});

test('ingress grants: each running ingress holds its mark; the rules follow the funnel attribute', () => {
  const state = new DevnetState({ nodeKeyExpiryMs: 3_600_000 });
  let touched = 0;
  state.subscribe(() => touched++);
  const wire = new Map<number, Node>([
    [1, { ID: 1, Addresses: ['100.64.0.1/32'] } as unknown as Node],
    [2, { ID: 2, Addresses: ['100.64.0.2/32'], CapMap: { funnel: null } } as unknown as Node],
    [3, { ID: 3, Addresses: ['100.64.0.3/32'] } as unknown as Node],
  ]);
  assert.deepEqual(ingressRules(state, wire), []);
  setIngressNode(state, 1, true);
  setIngressNode(state, 1, true);
  setIngressNode(state, 1, false);
  const rules = ingressRules(state, wire);
  assert.deepEqual(rules.map((r) => r.SrcIPs), [['100.64.0.1'], ['100.64.0.1']]);
  assert.deepEqual(rules[0]!.DstPorts, [{ IP: '100.64.0.2/32', Ports: { First: 0, Last: 65535 } }]);
  assert.deepEqual(rules[1]!.CapGrant, [{ Dsts: ['100.64.0.2/32'], CapMap: { 'https://tailscale.com/cap/ingress': null } }]);
  setIngressNode(state, 1, false);
  assert.deepEqual(ingressRules(state, wire), []);
  assert.equal(touched, 2, 'the netmap changes when the first ingress starts and the last one stops');
  assert.deepEqual(withFunnelAttrs({ funnel: null }), { funnel: null, https: null, 'https://tailscale.com/cap/funnel-ports?ports=443,8443,10000': null });
  assert.equal(withFunnelAttrs(null), null);
});

test('funnelOnly: the tailnet cannot connect; the public still can', async () => {
  const ln = await web.listenFunnel('tcp', ':8443', { funnelOnly: true, tlsConfig: { key, cert } });
  try {
    await ingressSees(webName);
    await assert.rejects(plain.dial('tcp', `${webName}:8443`), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET');
    const accepted = new Promise<tls.TLSSocket>((resolve) => ln.once('connection', resolve));
    const client = await publicConnect(8443, webName);
    assert.equal((await accepted).remoteAddress, client.localAddress);
    client.destroy();
  } finally {
    ln.close();
  }
});

test('an unknown name, no SNI, or a port the node does not Funnel is closed by the ingress', async () => {
  const before = ingress.stats();
  await assert.rejects(publicConnect(443, 'nobody.devnet.internal'));
  // Port 10000: the node has not turned Funnel on for it: no ingress (its Hostinfo is off after the closes above)
  // or the node's peerAPI refuses the target (403).
  await assert.rejects(publicConnect(10000, webName));
  const after = ingress.stats();
  assert.ok(after.noFunnelNode + after.refused >= before.noFunnelNode + before.refused + 2, JSON.stringify(after));
});

test('no funnel attribute: listenFunnel rejects with ERR_TSNET_FUNNEL_NOT_ALLOWED naming it', async () => {
  await assert.rejects(plain.listenFunnel('tcp', ':443', { tlsConfig: { key, cert } }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ERR_TSNET_FUNNEL_NOT_ALLOWED');
    assert.match(e.message, /"https" and "funnel" node attributes/);
    return true;
  });
});

test('without tlsConfig the node serves its own certificate, from the devnet ACME server', async () => {
  const ln = await web.listenFunnel('tcp', ':8443');
  try {
    await ingressSees(webName);
    const accepted = new Promise<tls.TLSSocket>((resolve) => ln.once('connection', resolve));
    const client = await publicConnect(8443, webName, devnet.acme!.caPEM);
    assert.ok(client.authorized, 'the public client verifies it against the devnet CA');
    assert.match(client.getPeerCertificate().subjectaltname ?? '', new RegExp(`DNS:${webName.replace(/\./g, '\\.')}`));
    await accepted;
    client.destroy();
  } finally {
    await ln.close();
  }
});

test('a port outside funnel-ports and bad arguments are coded errors', async () => {
  await assert.rejects(web.listenFunnel('tcp', ':8080', { tlsConfig: { key, cert } }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ERR_TSNET_FUNNEL_PORT');
    assert.match(e.message, /allowed ports are: 443,8443,10000/);
    return true;
  });
  await assert.rejects(web.listenFunnel('udp' as 'tcp', ':443'), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(web.listenFunnel('tcp', '100.64.0.1:443'), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(web.listenFunnel('tcp', ':443', { funnelOnly: 1 as unknown as boolean }), { code: 'ERR_INVALID_ARG_TYPE' });
  await assert.rejects(web.listenFunnel('tcp', ':443', { tlsconfig: {} } as object), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('the peerAPI refuses ingress from a peer without the ingress capability', async () => {
  const ln = await web.listenFunnel('tcp', ':10000', { tlsConfig: { key, cert } });
  try {
    // The peerAPI port web advertises in Hostinfo.Services, as plain's netmap shows it.
    const webIP = web.tailscaleIPs().find((a) => net.isIPv4(a))!;
    const port = (): number | undefined => plain.whoIs(webIP)?.node.Hostinfo?.Services?.find((x) => x.Proto === 'peerapi4')?.Port;
    if (!port()) {
      await new Promise<void>((resolve) => {
        const on = (): void => {
          if (!port()) return;
          plain.off('netmap', on);
          resolve();
        };
        plain.on('netmap', on);
      });
    }
    const c = (await plain.dial('tcp', `${webIP}:${port()!}`)) as net.Socket;
    c.end(`POST /v0/ingress HTTP/1.1\r\nHost: x\r\nTailscale-Ingress-Src: 1.2.3.4:5\r\nTailscale-Ingress-Target: ${webName}:10000\r\nContent-Length: 0\r\n\r\n`);
    const answer = await new Promise<string>((resolve) => {
      let b = '';
      c.on('data', (d: Buffer) => (b += d.toString()));
      c.once('close', () => resolve(b));
    });
    assert.match(answer, /^HTTP\/1\.1 403 [^\r]*\r\n[\s\S]*denied; no ingress cap/);
    // Garbage, an oversized head, and another path: answered and closed, and the peerAPI goes on serving.
    const ask = async (bytes: Buffer | string): Promise<string> => {
      const k = (await plain.dial('tcp', `${webIP}:${port()!}`)) as net.Socket;
      k.on('error', () => undefined);
      k.end(bytes);
      return new Promise<string>((resolve) => {
        let b = '';
        k.on('data', (d: Buffer) => (b += d.toString()));
        k.once('close', () => resolve(b));
      });
    };
    assert.match(await ask(Buffer.concat([crypto.randomBytes(300), Buffer.from('\r\n\r\n')])), /^HTTP\/1\.1 400 /);
    assert.match(await ask(`GET / HTTP/1.1\r\nX: ${'a'.repeat(9000)}`), /^HTTP\/1\.1 431 /);
    assert.match(await ask('GET /v0/other HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 404 /);
    assert.match(await ask(`GET /v0/ingress HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 403 /);
  } finally {
    ln.close();
  }
});

test('parseClientHello: a real ClientHello, split anywhere, and random bytes never throw', async () => {
  // Capture a real ClientHello from node:tls.
  const hello = await new Promise<Buffer>((resolve) => {
    const srv = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
        srv.close();
      });
    }).listen(0, '127.0.0.1', () => {
      const c = tls.connect({ host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port, servername: 'Web.Devnet.Internal' });
      c.on('error', () => undefined);
    });
  });
  assert.deepEqual(parseClientHello(hello), { status: 'ok', serverName: 'web.devnet.internal' });
  for (let i = 0; i < hello.length; i++) assert.deepEqual(parseClientHello(hello.subarray(0, i)), { status: 'more' }, `prefix ${i}`);
  // The same hello in two TLS records.
  const body = hello.subarray(5);
  const cut = 40;
  const rec = (b: Buffer): Buffer => Buffer.concat([Buffer.from([22, 3, 1, b.length >> 8, b.length & 0xff]), b]);
  assert.deepEqual(parseClientHello(Buffer.concat([rec(body.subarray(0, cut)), rec(body.subarray(cut))])), { status: 'ok', serverName: 'web.devnet.internal' });
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')).status, 'bad');
  let bad = 0;
  for (let i = 0; i < 20_000; i++) {
    const b = crypto.randomBytes(1 + (i % 600));
    if (i % 3 === 0) b.set(hello.subarray(0, Math.min(b.length, 5 + (i % 80))));
    if (i % 5 === 0) for (let j = 0; j < 4; j++) hello.copy(b, 0, 0, Math.min(b.length, hello.length)), (b[(i * 7 + j) % b.length] = i & 0xff);
    const r = parseClientHello(b);
    assert.ok(['more', 'bad', 'ok'].includes(r.status));
    if (r.status === 'bad') bad++;
  }
  assert.ok(bad > 1000, `random bytes are mostly refused (${bad})`);
});

test('the ingress counts and closes adversarial bytes (never a crash)', async () => {
  const addr = ingress.addresses[443]!;
  const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  const before = ingress.stats().badHello;
  for (let i = 0; i < 20; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write(i === 0 ? Buffer.from([22, 3, 1, 0xff, 0xff]) : crypto.randomBytes(64 + i * 50));
    if (i === 0) s.write(crypto.randomBytes(20_000));
    await new Promise((resolve) => s.once('close', resolve));
  }
  assert.ok(ingress.stats().badHello >= before + 18, JSON.stringify(ingress.stats()));
});

test('closing the node closes its Funnel listeners', async () => {
  const s = new Server({ hostname: 'closer', controlURL: devnet.controlURL, authKey: devnet.createAuthKey(), store: new MemoryStore() });
  const ln = await s.listenFunnel('tcp', ':443', { tlsConfig: { key, cert } });
  assert.equal(ln.listening, true);
  const closed = new Promise<void>((resolve) => ln.once('close', resolve));
  await s.close();
  await closed;
  assert.equal(ln.listening, false);
  await assert.rejects(s.listenFunnel('tcp', ':443', { tlsConfig: { key, cert } }), { code: 'ERR_TSNET_CLOSED' });
});

test('the default certificate seam: the node\'s getter, asked at each handshake, so a renewal is served', async () => {
  await assert.rejects(nodeCertificate('web.devnet.internal', undefined), { code: 'ERR_TSNET_NO_CERTIFICATE' });
  const second = selfSigned(webName);
  let current = { cert: cert.toString(), key: key.toString() };
  const opts = await nodeCertificate(webName, async () => current);
  const srv = tls.createServer(opts, (s) => s.end()).listen(0, '127.0.0.1');
  await new Promise((resolve) => srv.once('listening', resolve));
  const fingerprint = (ca: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port, servername: webName, ca }, () => {
        resolve(c.getPeerCertificate().fingerprint256);
        c.destroy();
      });
      c.once('error', reject);
    });
  const a = await fingerprint(cert);
  current = { cert: second.cert.toString(), key: second.key.toString() };
  const b = await fingerprint(second.cert);
  assert.notEqual(a, b, 'the renewed certificate is served without a new listener');
  srv.close();
});
