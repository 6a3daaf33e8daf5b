// Tailscale Services on the bundled devnet (docs/services.md): a tagged node hosts a service with
// listenService, the devnet fetches its advertisement (Hostinfo.ServicesHash, c2n /vip-services), an admin
// approves the host, and a peer reaches the service by its name and VIP in tcp and http mode, and over TLS
// with a certificate for the service's name from the devnet's ACME server. Untagged hosts get a coded error.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { MiniClient } from './fixtures/devnet/mini-client.js';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';
import type { NetworkMap } from '../lib/wire/netmap.js';
import { encodeHeaderValue } from '../lib/server/service-http.js';

let devnet: Devnet;
let host: Server;
let client: Server;
let tagged: string;

before(async () => {
  // acme: the devnet's own ACME server and CA (HTTPS services); nodes never reach a public one.
  devnet = await startDevnet({ admin: true, acme: true });
  tagged = devnet.createAuthKey({ reusable: true, tags: ['tag:svc'] });
  const plain = devnet.createAuthKey({ reusable: true });
  const acme = { acmeDirectoryURL: devnet.acme!.directoryURL, acmeCA: devnet.acme!.caPEM };
  host = new Server({ hostname: 'svchost', controlURL: devnet.controlURL, authKey: tagged, advertiseTags: ['tag:svc'], store: new MemoryStore(), ...acme });
  client = new Server({ hostname: 'svcclient', controlURL: devnet.controlURL, authKey: plain, store: new MemoryStore(), ...acme });
  await Promise.all([host.up(), client.up()]);
});

after(async () => {
  await Promise.allSettled([host.close(), client.close()]);
  await devnet.close();
});

/** Resolves at the first later netmap that satisfies check. */
function netmapWhere(s: Server, check: (nm: NetworkMap) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const onNetmap = (nm: NetworkMap): void => {
      if (!check(nm)) return;
      s.off('netmap', onNetmap);
      resolve();
    };
    s.on('netmap', onNetmap);
  });
}

const hasRecord = (name: string) => (nm: NetworkMap): boolean => (nm.dns?.ExtraRecords ?? []).some((r) => r.Name.replace(/\.$/, '') === name);

test('a tagged node hosts a TCP service; a peer reaches it by name and VIP once the host is approved', { timeout: 30_000 }, async () => {
  const svc = devnet.defineService('svc:echo');
  assert.equal(svc.addresses.length, 2);
  const ln = await host.listenService('svc:echo', { mode: 'tcp', port: 7000 });
  assert.equal(ln.fqdn, 'echo.devnet.internal');
  assert.equal(ln.addr(), 'echo.devnet.internal:7000');
  const locals: string[] = [];
  ln.on('connection', (s) => {
    locals.push(`${s.localAddress}:${s.localPort}`);
    s.pipe(s);
  });
  // The devnet learns of the advertisement through c2n; not reachable until approved.
  const hostId = devnet.nodes().find((n) => n.hostname === 'svchost')!.id;
  const seen = netmapWhere(client, hasRecord('echo.devnet.internal'));
  devnet.approveServiceHost('svc:echo', hostId);
  await devnet.waitFor(() => devnet.services().find((s) => s.name === 'svc:echo')?.hosts.includes(hostId), 15_000);
  await seen;
  for (const target of ['echo.devnet.internal:7000', `${svc.addresses[0]}:7000`, `[${svc.addresses[1]}]:7000`]) {
    const sock = await client.dial('tcp', target);
    sock.end('ping');
    const chunks: Buffer[] = [];
    for await (const c of sock) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'ping', target);
  }
  assert.deepEqual(locals.slice(0, 3), [`${svc.addresses[0]}:7000`, `${svc.addresses[0]}:7000`, `${svc.addresses[1]}:7000`]);
  // The service listener counts the connections it took over, until they close.
  const count = (): Promise<number> => new Promise((resolve, reject) => ln.getConnections((e, n) => (e ? reject(e) : resolve(n))));
  const accepted = once(ln, 'connection');
  const open = await client.dial('tcp', 'echo.devnet.internal:7000');
  const [hostSide] = (await accepted) as [import('node:net').Socket];
  assert.equal(await count(), 1);
  const closed = once(hostSide, 'close');
  open.end();
  await closed;
  assert.equal(await count(), 0);
  // A port the service does not listen on is reset (nothing else takes VIP traffic). The catch-all listener
  // completes the handshake before deciding, so the reset follows the connect (docs/services.md).
  const other = await client.dial('tcp', `${svc.addresses[0]}:7001`);
  const [err] = (await once(other, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNRESET');
  ln.close();
  await once(ln, 'close');
});

test('an HTTP service is served to a peer\'s fetch', { timeout: 30_000 }, async () => {
  devnet.defineService('svc:api');
  const ln = await host.listenService('svc:api', { mode: 'http', port: 80 });
  const srv = ln.serve(http.createServer((req, res) => {
    res.setHeader('x-login', String(req.headers['tailscale-user-login'] ?? ''));
    res.setHeader('x-forwarded-for', String(req.headers['x-forwarded-for'] ?? ''));
    res.end(`hello ${req.url} from ${req.socket.localAddress}`);
  }));
  const hostId = devnet.nodes().find((n) => n.hostname === 'svchost')!.id;
  const seen = netmapWhere(client, hasRecord('api.devnet.internal'));
  devnet.approveServiceHost('svc:api', hostId);
  await seen;
  const vip = devnet.services().find((s) => s.name === 'svc:api')!.addresses[0]!;
  // The caller's identity comes from the netmap (a claimed one is dropped), as Tailscale's serve proxy adds it.
  const res = await client.fetch('http://api.devnet.internal/x', { headers: { 'Tailscale-User-Login': 'mallory@example.com' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-login'), 'dev@example.com');
  assert.equal(res.headers.get('x-forwarded-for'), client.tailscaleIPs()[0]);
  assert.equal(await res.text(), `hello /x from ${vip}`);
  srv.close();
});

test('listenService: untagged hosts, bad names and TLS options of the wrong mode are coded errors', async () => {
  await assert.rejects(client.listenService('svc:web', { mode: 'tcp', port: 80 }), { code: 'ERR_TSNET_UNTAGGED_SERVICE_HOST' });
  await assert.rejects(client.listenService('svc:web', { mode: 'http', port: 443, https: true }), { code: 'ERR_TSNET_UNTAGGED_SERVICE_HOST' });
  await assert.rejects(async () => host.listenService('web', { mode: 'tcp', port: 80 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(host.listenService('svc:web', { mode: 'tcp', port: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(host.listenService('svc:web', { mode: 'tcp', port: 443, https: true }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(host.listenService('svc:web', { mode: 'http', port: 443, terminateTLS: true }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('an HTTPS service: the host gets a certificate for the service\'s name, a peer fetches https://<fqdn>/ verifying it against the devnet CA; TCP mode terminates TLS', { timeout: 60_000 }, async () => {
  const fqdn = 'secure.devnet.internal';
  const ca = devnet.acme!.caPEM;
  devnet.defineService('svc:secure');
  const ln = await host.listenService('svc:secure', { mode: 'http', port: 443, https: true });
  assert.equal(ln.fqdn, fqdn);
  assert.equal(ln.addr(), `${fqdn}:443`);
  const srv = ln.serve(http.createServer((req, res) => {
    res.setHeader('x-login', String(req.headers['tailscale-user-login'] ?? ''));
    res.end(`secure ${req.url} for ${(req.socket as tls.TLSSocket).servername}`);
  }));
  const hostId = devnet.nodes().find((n) => n.hostname === 'svchost')!.id;
  // Once approved, control lists the service's name among the host's CertDomains.
  const certName = netmapWhere(host, (nm) => (nm.dns?.CertDomains ?? []).includes(fqdn));
  const seen = netmapWhere(client, hasRecord(fqdn));
  devnet.approveServiceHost('svc:secure', hostId);
  await Promise.all([certName, seen]);
  assert.ok(host.certDomains().includes('svchost.devnet.internal') && host.certDomains().includes(fqdn));
  assert.ok(!client.certDomains().includes(fqdn), 'only the host may hold the service\'s certificate');

  const orders = devnet.acme!.stats.orders;
  const res = await client.fetch(`https://${fqdn}/x`, { tls: { ca } });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), `secure /x for ${fqdn}`);
  assert.equal(res.headers.get('x-login'), 'dev@example.com');
  assert.equal(devnet.acme!.stats.orders, orders + 1, 'one ACME order, for the service name');

  // The certificate names the service and chains to the devnet CA; SNI for another name gets no certificate.
  const raw = await client.dial('tcp', `${fqdn}:443`);
  const sock = tls.connect({ socket: raw, servername: fqdn, ca });
  await once(sock, 'secureConnect');
  assert.equal(sock.authorized, true);
  const leaf = sock.getPeerX509Certificate()!;
  assert.equal(leaf.checkHost(fqdn), fqdn);
  assert.equal(leaf.checkHost('svchost.devnet.internal'), undefined);
  assert.ok(leaf.verify(new X509Certificate(ca).publicKey));
  sock.destroy();
  const rawOther = await client.dial('tcp', `${fqdn}:443`);
  const other = tls.connect({ socket: rawOther, servername: 'svchost.devnet.internal', ca });
  const [err] = (await once(other, 'error')) as [Error];
  assert.ok(err instanceof Error);
  other.destroy();

  // TCP mode with terminateTLS: the application reads the decrypted stream.
  const tcp = await host.listenService('svc:secure', { mode: 'tcp', port: 8443, terminateTLS: true });
  tcp.on('connection', (s) => {
    s.once('data', (d: Buffer) => s.end(`tls-tcp ${s.servername} ${d.toString()}`));
  });
  const rawTcp = await client.dial('tcp', `${fqdn}:8443`);
  const t = tls.connect({ socket: rawTcp, servername: fqdn, ca });
  await once(t, 'secureConnect');
  assert.equal(t.authorized, true);
  t.write('ping');
  const chunks: Buffer[] = [];
  for await (const c of t) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), `tls-tcp ${fqdn} ping`);
  tcp.close();

  // A node that does not host the service: its own CertDomains lack the name (ERR_TSNET_CERT_DOMAIN), and the
  // devnet refuses to place the ACME challenge record for it (control's set-dns), so no ACME order can pass.
  await assert.rejects(client.certPair(fqdn), { code: 'ERR_TSNET_CERT_DOMAIN' });
  const mini = await MiniClient.connect(devnet.controlURL, { hostname: 'notahost' });
  try {
    await mini.register({ Auth: { AuthKey: tagged } });
    const setDNS = (name: string) => mini.post('/machine/set-dns', { Version: 145, NodeKey: mini.nodeKey, Name: `_acme-challenge.${name}`, Type: 'TXT', Value: 'x' });
    assert.equal((await setDNS(fqdn)).status, 403, 'a tagged node not approved for the service');
    assert.equal((await setDNS('notahost.devnet.internal')).status, 200, 'its own name');
  } finally {
    mini.close();
  }
  srv.close();
});

test('the admin endpoint defines services and approves hosts; policy autoApprovers approve a host without an admin', { timeout: 30_000 }, async () => {
  const admin = devnet.admin!;
  const call = async (route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${admin.url}/api/v0/${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const def = await call('services', { name: 'svc:admin' });
  assert.equal(def.status, 200);
  assert.equal((def.json.addresses as string[]).length, 2);
  assert.equal((await call('services', { name: 'nope' })).status, 400);
  assert.equal((await call('services', { name: 'svc:x', extra: 1 })).status, 400);
  assert.equal((await call('services/approve', { name: 'svc:admin', node: 'no-such-node' })).status, 404);
  assert.equal((await call('routes/approve', { node: 'svchost', routes: ['10.0.0.0/33'] })).status, 400);
  const ln = await host.listenService('svc:admin', { mode: 'tcp', port: 7100 });
  ln.on('connection', (s) => s.end('admin-approved'));
  const seen = netmapWhere(client, hasRecord('admin.devnet.internal'));
  const ok = await call('services/approve', { name: 'svc:admin', node: 'svchost' });
  assert.equal(ok.status, 200);
  await seen;
  const sock = await client.dial('tcp', 'admin.devnet.internal:7100');
  const chunks: Buffer[] = [];
  for await (const c of sock) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'admin-approved');
  const list = await call('services');
  assert.ok((list.json as unknown as Array<{ name: string; hosts: number[] }>).some((s) => s.name === 'svc:admin' && s.hosts.length === 1));

  // autoApprovers.services: a service defined later is hosted as soon as the tagged node advertises it.
  devnet.setPolicy({ acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }], autoApprovers: { services: { 'svc:auto': ['tag:svc'] } } } as Parameters<Devnet['setPolicy']>[0]);
  devnet.defineService('svc:auto');
  const autoSeen = netmapWhere(client, hasRecord('auto.devnet.internal'));
  const ln2 = await host.listenService('svc:auto', { mode: 'tcp', port: 7200 });
  ln2.on('connection', (s) => s.end('auto-approved'));
  await autoSeen;
  const sock2 = await client.dial('tcp', 'auto.devnet.internal:7200');
  const chunks2: Buffer[] = [];
  for await (const c of sock2) chunks2.push(c as Buffer);
  assert.equal(Buffer.concat(chunks2).toString(), 'auto-approved');
  devnet.setPolicy(null);
});

test('identity header values are Q-encoded when not ASCII, as Tailscale encodes them', () => {
  assert.equal(encodeHeaderValue('dev@example.com'), 'dev@example.com');
  assert.equal(encodeHeaderValue('Zoë Q'), '=?utf-8?q?Zo=C3=AB_Q?=');
  assert.equal(encodeHeaderValue('é_a=b?'), '=?utf-8?q?=C3=A9=5Fa=3Db=3F?=');
});

test('a policy naming a service as destination ("svc:acl:7300") lets callers reach it, and its host gets only that rule', { timeout: 30_000 }, async () => {
  const svc = devnet.defineService('svc:acl');
  const hostId = devnet.nodes().find((n) => n.hostname === 'svchost')!.id;
  const hostFilter = new Promise<string[]>((resolve) => {
    const on = (nm: NetworkMap): void => {
      const dsts = nm.packetFilter.flatMap((r) => (r.DstPorts ?? []).map((d) => `${d.IP}:${d.Ports.First}`));
      if (dsts.length && dsts.every((d) => d.startsWith(svc.addresses[0]!) || d.startsWith(svc.addresses[1]!))) {
        host.off('netmap', on);
        resolve(dsts);
      }
    };
    host.on('netmap', on);
  });
  const seen = netmapWhere(client, hasRecord('acl.devnet.internal'));
  devnet.setPolicy({ acls: [{ action: 'accept', src: ['autogroup:member'], dst: ['svc:acl:7300'] }] });
  const ln = await host.listenService('svc:acl', { mode: 'tcp', port: 7300 });
  ln.on('connection', (s) => s.end('acl-ok'));
  devnet.approveServiceHost('svc:acl', hostId);
  assert.deepEqual((await hostFilter).sort(), [`${svc.addresses[0]}:7300`, `${svc.addresses[1]}:7300`].sort());
  await seen;
  const sock = await client.dial('tcp', 'acl.devnet.internal:7300');
  const chunks: Buffer[] = [];
  for await (const c of sock) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'acl-ok');
  devnet.setPolicy(null);
});

test('the policy accepts "svc:" only as a destination', () => {
  assert.throws(() => devnet.setPolicy({ acls: [{ action: 'accept', src: ['svc:acl'], dst: ['*:*'] }] }), /svc:acl/);
});

test('devnet services can be defined at start; bad definitions are refused before anything starts', async () => {
  const d = await startDevnet({ services: [{ name: 'svc:boot' }, { name: 'svc:fixed', addresses: ['100.127.253.1', 'fd7a:115c:a1e0:ac::1'] }] });
  try {
    assert.deepEqual(d.services().map((s) => s.name), ['svc:boot', 'svc:fixed']);
    assert.deepEqual(d.services()[1]!.addresses, ['100.127.253.1', 'fd7a:115c:a1e0:ac::1']);
    assert.throws(() => d.defineService('svc:boot'), RangeError);
    assert.throws(() => d.defineService('svc:addr', { addresses: ['nope'] }), RangeError);
  } finally {
    await d.close();
  }
  await assert.rejects(startDevnet({ services: [{ name: 'web' }] }), RangeError);
  await assert.rejects(startDevnet({ services: [{ name: 'svc:a' }, { name: 'svc:a' }] }), RangeError);
});
