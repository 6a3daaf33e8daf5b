// HTTPS certificates on the bundled devnet: its ACME server (RFC 8555, DNS-01 through control's set-dns, a test
// CA) and the node's client (certPair, listenTLS): issuance, TLS with hostname verification, cache reuse,
// shared issuance, renewal ahead of expiry, coded errors, and an ACME server that answers hostile requests
// with problem documents.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server, type CertEvent } from '../lib/server.js';
import { dns01Value, publicJwk, signJws } from '../lib/cert/jws.js';
import { createCsr, parseCsr } from '../lib/cert/x509.js';
import { MiniClient } from './fixtures/devnet/mini-client.js';
import { TestCA } from '../lib/devnet/acme-ca.js';

let devnet: Devnet;
let web: Server;
let client: Server;
let authKey: string;
const webStore = new MemoryStore();

function node(hostname: string, store = new MemoryStore(), extra: Partial<ConstructorParameters<typeof Server>[0]> = {}): Server {
  return new Server({
    hostname,
    controlURL: devnet.controlURL,
    authKey,
    store,
    acmeDirectoryURL: devnet.acme!.directoryURL,
    acmeCA: devnet.acme!.caPEM,
    ...extra,
  });
}

before(async () => {
  devnet = await startDevnet({ acme: true });
  authKey = devnet.createAuthKey({ reusable: true });
  web = node('web', webStore);
  client = node('client');
  await Promise.all([web.up(), client.up()]);
});

after(async () => {
  await Promise.allSettled([web.close(), client.close()]);
  await devnet.close();
});

test('certDomains() is the node\'s MagicDNS name; listenTLS serves it with a certificate a peer verifies against the devnet CA', { timeout: 30_000 }, async () => {
  assert.deepEqual(web.certDomains(), ['web.devnet.internal']);
  const orders = devnet.acme!.stats.orders;
  const ln = web.listenTLS('tcp', ':443');
  const served = (async () => {
    for await (const s of ln) {
      s.end(`hello over TLS to ${s.servername}`);
      break;
    }
  })();
  const raw = await client.dial('tcp', 'web.devnet.internal:443');
  const sock = tls.connect({ socket: raw, servername: 'web.devnet.internal', ca: devnet.acme!.caPEM });
  await once(sock, 'secureConnect');
  assert.equal(sock.authorized, true);
  const peer = sock.getPeerX509Certificate()!;
  assert.equal(peer.checkHost('web.devnet.internal'), 'web.devnet.internal');
  assert.ok(peer.verify(new X509Certificate(devnet.acme!.caPEM).publicKey), 'signed by the devnet CA');
  // Another name fails hostname verification.
  assert.ok(tls.checkServerIdentity('client.devnet.internal', sock.getPeerCertificate()) instanceof Error);
  const chunks: Buffer[] = [];
  for await (const c of sock) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'hello over TLS to web.devnet.internal');
  await served;
  assert.equal(devnet.acme!.stats.orders, orders + 1, 'one ACME order');

  const raw2 = await client.dial('tcp', 'web.devnet.internal:443').catch(() => null);
  assert.equal(raw2, null, 'the listener was closed by the iterator');
});

test('listenTLS().serve(http.Server) serves HTTPS; https.get through the tailnet verifies the name', { timeout: 30_000 }, async () => {
  const ln = web.listenTLS('tcp', ':8443');
  const { createServer } = await import('node:http');
  const srv = ln.serve(createServer((req, res) => res.end(`path ${req.url}`)));
  try {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(
          {
            host: 'web.devnet.internal',
            port: 8443,
            path: '/x',
            ca: devnet.acme!.caPEM,
            createConnection: (_o: unknown, cb: (err: Error | null, s?: unknown) => void) => {
              client.dial('tcp', 'web.devnet.internal:8443').then((s) => cb(null, tls.connect({ socket: s, servername: 'web.devnet.internal', ca: devnet.acme!.caPEM })), cb);
              return undefined;
            },
          } as https.RequestOptions,
          (res) => {
            let b = '';
            res.on('data', (c: Buffer) => (b += c.toString()));
            res.on('end', () => resolve(b));
          },
        )
        .on('error', reject);
    });
    assert.equal(body, 'path /x');
  } finally {
    srv.close();
  }
});

test('listenTLS: a client without SNI gets the first cert domain\'s certificate; certContexts expands a short name', { timeout: 30_000 }, async () => {
  const ln = web.listenTLS('tcp', ':9443');
  ln.on('connection', (s) => s.end('no sni'));
  try {
    const raw = await client.dial('tcp', `${web.tailscaleIPs()[0]}:9443`);
    // Connecting by IP: Node sends no SNI for an IP; the name is checked by hand below.
    const sock = tls.connect({ socket: raw, ca: devnet.acme!.caPEM, checkServerIdentity: () => undefined });
    await once(sock, 'secureConnect');
    assert.equal(sock.authorized, true);
    assert.equal(sock.getPeerX509Certificate()!.checkHost('web.devnet.internal'), 'web.devnet.internal');
    sock.destroy();
    const { certContexts } = await import('../lib/server/tls.js');
    let asked = '';
    const c = certContexts((d) => ((asked = d), web.certPair(d)), () => web.certDomains());
    await c.context('web');
    assert.equal(asked, 'web.devnet.internal');
  } finally {
    ln.close();
  }
});

test('the certificate is cached in the store and reused (no second order), also by a restarted node', { timeout: 30_000 }, async () => {
  const first = await web.certPair();
  const orders = devnet.acme!.stats.orders;
  const again = await web.certPair('web.devnet.internal');
  assert.equal(again.cert, first.cert);
  assert.equal(again.key, first.key);
  assert.match((await webStore.get('web.devnet.internal.crt'))!.toString(), /BEGIN CERTIFICATE/);
  assert.match((await webStore.get('web.devnet.internal.key'))!.toString(), /BEGIN EC PRIVATE KEY/);
  assert.equal((await web.localClient().certPair()).cert, first.cert, 'LocalClient.certPair delegates');
  // The same identity in a new Server (its store) reuses the certificate.
  await web.close();
  web = node('web', webStore);
  await web.up();
  assert.equal((await web.certPair()).cert, first.cert);
  assert.equal(devnet.acme!.stats.orders, orders, 'no new ACME order');
});

test('concurrent requests for one domain share one issuance', { timeout: 30_000 }, async () => {
  const n = node('burst');
  try {
    await n.up();
    const orders = devnet.acme!.stats.orders;
    const pairs = await Promise.all([n.certPair(), n.certPair(), n.localClient().certPair('burst.devnet.internal')]);
    assert.equal(new Set(pairs.map((p) => p.cert)).size, 1);
    assert.equal(devnet.acme!.stats.orders, orders + 1);
  } finally {
    await n.close();
  }
});

test('a certificate past 2/3 of its lifetime is served while a renewal runs in the background', { timeout: 30_000 }, async () => {
  const n = node('renew');
  const acme = devnet.acme!;
  try {
    await n.up();
    // Valid for another hour but issued three hours "ago": 3/4 of its lifetime has passed.
    acme.certBackdateMs = 3 * 3600_000;
    acme.certLifetimeMs = 3600_000;
    const events: CertEvent[] = [];
    n.on('cert', (e) => events.push(e));
    const old = await n.certPair();
    assert.equal(events.length, 1);
    assert.equal(events[0]!.renewed, false);
    acme.certBackdateMs = 3600_000;
    acme.certLifetimeMs = 90 * 86400_000;
    const orders = acme.stats.orders;
    const renewed = once(n, 'cert') as Promise<[CertEvent]>;
    assert.equal((await n.certPair()).cert, old.cert, 'the still valid one is served meanwhile');
    const [e] = await renewed;
    assert.equal(e.renewed, true);
    assert.equal(acme.stats.orders, orders + 1);
    const fresh = await n.certPair();
    assert.notEqual(fresh.cert, old.cert);
    assert.ok(Date.parse(new X509Certificate(fresh.cert).validTo) > Date.parse(new X509Certificate(old.cert).validTo));
  } finally {
    acme.certBackdateMs = 3600_000;
    acme.certLifetimeMs = 90 * 86400_000;
    await n.close();
  }
});

test('errors are coded: a name not in certDomains, an ACME server that cannot be trusted, not up', { timeout: 30_000 }, async () => {
  await assert.rejects(web.certPair('client.devnet.internal'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ERR_TSNET_CERT_DOMAIN');
    assert.match(e.message, /only "web\.devnet\.internal" is permitted/);
    return true;
  });
  await assert.rejects(web.certPair('../etc'), { code: 'ERR_TSNET_CERT_DOMAIN' });
  await assert.rejects(web.certPair(42 as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' });
  const fresh = node('nota', new MemoryStore());
  await assert.rejects(fresh.certPair(), { code: 'ERR_TSNET_NOT_UP' });
  await fresh.close();
  // No trust in the devnet CA: the ACME exchange fails with ERR_TSNET_ACME, not a crash.
  const untrusting = node('untrusting', new MemoryStore(), { acmeCA: generateCA() });
  try {
    await untrusting.up();
    await assert.rejects(untrusting.certPair(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_TSNET_ACME');
      return true;
    });
    // A listenTLS connection then fails its handshake; the listener says why.
    const ln = untrusting.listenTLS('tcp', ':443');
    const failed = once(ln, 'tlsClientError') as Promise<[Error]>;
    const raw = await client.dial('tcp', 'untrusting.devnet.internal:443');
    raw.on('error', () => {});
    const [err] = await failed;
    assert.equal((err as Error & { code?: string }).code, 'ERR_TSNET_ACME');
    ln.close();
  } finally {
    await untrusting.close();
  }
  // No ACME server at all (a closed loopback port): ERR_TSNET_ACME naming the failure.
  const lost = node('lost', new MemoryStore(), { acmeDirectoryURL: 'https://127.0.0.1:1/acme/directory' });
  try {
    await lost.up();
    await assert.rejects(lost.certPair(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_TSNET_ACME');
      assert.match(e.message, /ECONNREFUSED/);
      return true;
    });
  } finally {
    await lost.close();
  }
  assert.throws(() => new Server({ acmeDirectoryURL: 'ftp://x' }), { code: 'ERR_INVALID_URL' });
});

/** Another test CA's root: not the one that signed the devnet's ACME server. */
function generateCA(): string {
  return new TestCA().certPEM;
}

// -- the ACME server against hostile and odd clients ------------------------------------------------------

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function req(url: string, method: string, body?: unknown, contentType = 'application/jose+json'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const r = https.request(url, { method, ca: devnet.acme!.caPEM, headers: data !== undefined ? { 'content-type': contentType } : {} }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
    });
    r.on('error', reject);
    r.end(data);
  });
}

async function dir(): Promise<Record<string, string>> {
  return JSON.parse((await req(devnet.acme!.directoryURL, 'GET')).body) as Record<string, string>;
}

async function nonce(): Promise<string> {
  return (await req((await dir())['newNonce']!, 'HEAD')).headers['replay-nonce'] as string;
}

function problem(r: Reply): string {
  assert.equal(r.headers['content-type'], 'application/problem+json');
  return (JSON.parse(r.body) as { type: string }).type.replace('urn:ietf:params:acme:error:', '');
}

async function account(key: KeyObject): Promise<{ kid: string; reply: Reply }> {
  const url = (await dir())['newAccount']!;
  const reply = await req(url, 'POST', signJws(key, { url, nonce: await nonce() }, { termsOfServiceAgreed: true }));
  return { kid: reply.headers.location as string, reply };
}

test('the ACME server answers bad JWS, replayed nonces, wrong URLs and algorithms with problem documents', { timeout: 30_000 }, async () => {
  const d = await dir();
  const url = d['newAccount']!;
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const problems = devnet.acme!.stats.problems;

  assert.equal(problem(await req(url, 'POST', 'not json')), 'malformed');
  assert.equal(problem(await req(url, 'POST', { protected: 'x', payload: 1, signature: '' })), 'malformed');
  assert.equal(problem(await req(url, 'POST', {}, 'application/json')), 'malformed');
  assert.equal((await req(url, 'POST', {}, 'application/json')).status, 415);

  // A nonce is good once.
  const n = await nonce();
  const ok = await req(url, 'POST', signJws(key, { url, nonce: n }, { termsOfServiceAgreed: true }));
  assert.equal(ok.status, 201);
  assert.match(ok.headers.location as string, /\/acme\/acct\//);
  assert.equal(problem(await req(url, 'POST', signJws(key, { url, nonce: n }, { termsOfServiceAgreed: true }))), 'badNonce');
  assert.equal(problem(await req(url, 'POST', signJws(key, { url, nonce: 'made-up' }, {}))), 'badNonce');

  // The same key again: the existing account (200), also with onlyReturnExisting.
  const again = await req(url, 'POST', signJws(key, { url, nonce: await nonce() }, { onlyReturnExisting: true }));
  assert.equal(again.status, 200);
  assert.equal(again.headers.location, ok.headers.location);
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  assert.equal(problem(await req(url, 'POST', signJws(stranger, { url, nonce: await nonce() }, { onlyReturnExisting: true }))), 'accountDoesNotExist');

  // The signed URL must be the request's.
  assert.equal(problem(await req(url, 'POST', signJws(key, { url: d['newOrder']!, nonce: await nonce() }, {}))), 'unauthorized');

  // A tampered signature, and alg "none".
  const jws = signJws(key, { url, nonce: await nonce() }, {});
  const sig = Buffer.from(jws.signature, 'base64url');
  sig[5]! ^= 1;
  assert.equal(problem(await req(url, 'POST', { ...jws, signature: sig.toString('base64url') })), 'malformed');
  const none = { alg: 'none', nonce: await nonce(), url, jwk: { kty: 'EC' } };
  assert.equal(problem(await req(url, 'POST', { protected: Buffer.from(JSON.stringify(none)).toString('base64url'), payload: '', signature: '' })), 'badSignatureAlgorithm');

  // A kid that names no account.
  assert.equal(problem(await req(d['newOrder']!, 'POST', signJws(key, { url: d['newOrder']!, nonce: await nonce(), kid: `${url}/nope` }, {}))), 'accountDoesNotExist');
  assert.ok(devnet.acme!.stats.problems >= problems + 10);
});

test('the ACME server: RS256 accounts, names outside the tailnet, challenges without TXT records, finalize too early', { timeout: 30_000 }, async () => {
  const d = await dir();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const { kid, reply } = await account(rsa);
  assert.equal(reply.status, 201);
  const post = async (url: string, payload: object | ''): Promise<Reply> => req(url, 'POST', signJws(rsa, { url, nonce: await nonce(), kid }, payload));

  assert.equal(problem(await post(d['newOrder']!, { identifiers: [{ type: 'dns', value: 'example.com' }] })), 'rejectedIdentifier');
  assert.equal(problem(await post(d['newOrder']!, { identifiers: [{ type: 'ip', value: '100.64.0.1' }] })), 'unsupportedIdentifier');
  assert.equal(problem(await post(d['newOrder']!, { identifiers: [] })), 'malformed');

  const o = await post(d['newOrder']!, { identifiers: [{ type: 'dns', value: 'client.devnet.internal' }] });
  assert.equal(o.status, 201);
  const order = JSON.parse(o.body) as { status: string; authorizations: string[]; finalize: string };
  assert.equal(order.status, 'pending');
  const csr = createCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'client.devnet.internal').toString('base64url');
  assert.equal(problem(await post(order.finalize, { csr })), 'orderNotReady');

  const authz = JSON.parse((await post(order.authorizations[0]!, '')).body) as { challenges: Array<{ type: string; url: string }> };
  const ch = authz.challenges.find((c) => c.type === 'dns-01')!;
  // This account set no TXT record through control, so validation fails and the order is invalid.
  const chr = JSON.parse((await post(ch.url, {})).body) as { status: string; error: { type: string } };
  assert.equal(chr.status, 'invalid');
  assert.equal(chr.error.type, 'urn:ietf:params:acme:error:unauthorized');
  const after = JSON.parse((await post(o.headers.location as string, '')).body) as { status: string };
  assert.equal(after.status, 'invalid');

  // Another account cannot read this one's order.
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const { kid: kid2 } = await account(other);
  const ol = o.headers.location as string;
  assert.equal((await req(ol, 'POST', signJws(other, { url: ol, nonce: await nonce(), kid: kid2 }, ''))).status, 404);
  // A GET of a POST-only resource, and a garbage path.
  assert.equal((await req(ol, 'GET')).status, 404);
  assert.equal(problem(await post(`${d['newOrder']!.replace('new-order', 'order')}/%00`, '')), 'malformed');
});

test('set-dns places only the node\'s own _acme-challenge TXT record; with it a third-party ACME client gets a certificate, and a bad CSR is a badCSR problem', { timeout: 30_000 }, async () => {
  const mini = await MiniClient.connect(devnet.controlURL, { hostname: 'mini' });
  try {
    await mini.register({ Auth: { AuthKey: authKey } });
    const name = 'mini.devnet.internal';
    const setDNS = (fields: Record<string, unknown>) => mini.post('/machine/set-dns', { Version: 145, NodeKey: mini.nodeKey, Name: `_acme-challenge.${name}`, Type: 'TXT', Value: 'x', ...fields });
    assert.equal((await setDNS({ Name: '_acme-challenge.web.devnet.internal' })).status, 403, 'another node\'s name');
    assert.equal((await setDNS({ Type: 'A' })).status, 400);
    assert.equal((await setDNS({ Value: '' })).status, 400);
    assert.equal((await setDNS({ NodeKey: web.status()!.self.Key })).status, 401, 'another node\'s key');
    assert.equal((await setDNS({ Name: 7 })).status, 400);
    assert.equal((await mini.post('/machine/set-dns', Buffer.from('{not json'))).status, 400);

    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const { kid } = await account(key);
    const post = async (url: string, payload: object | ''): Promise<Reply> => req(url, 'POST', signJws(key, { url, nonce: await nonce(), kid }, payload));
    const o = await post((await dir())['newOrder']!, { identifiers: [{ type: 'dns', value: name }] });
    const order = JSON.parse(o.body) as { authorizations: string[]; finalize: string };
    const authz = JSON.parse((await post(order.authorizations[0]!, '')).body) as { challenges: Array<{ type: string; url: string; token: string }> };
    const ch = authz.challenges[0]!;
    const { jwk } = publicJwk(key);
    assert.equal((await setDNS({ Value: dns01Value(ch.token, jwk) })).status, 200);
    assert.equal((JSON.parse((await post(ch.url, {})).body) as { status: string }).status, 'valid');
    assert.equal((JSON.parse((await post(o.headers.location as string, '')).body) as { status: string }).status, 'ready');

    assert.equal(problem(await post(order.finalize, { csr: 'not base64url!' })), 'badCSR');
    assert.equal(problem(await post(order.finalize, { csr: Buffer.from('garbage').toString('base64url') })), 'badCSR');
    const certKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    assert.equal(problem(await post(order.finalize, { csr: createCsr(certKey, 'web.devnet.internal').toString('base64url') })), 'badCSR');
    const fin = await post(order.finalize, { csr: createCsr(certKey, name).toString('base64url') });
    assert.equal(fin.status, 200);
    const done = JSON.parse(fin.body) as { status: string; certificate: string };
    assert.equal(done.status, 'valid');
    const chain = await post(done.certificate, '');
    assert.equal(chain.headers['content-type'], 'application/pem-certificate-chain');
    const leaf = new X509Certificate(chain.body);
    assert.equal(leaf.checkHost(name), name);
    assert.ok(leaf.checkPrivateKey(certKey));
    assert.ok(leaf.verify(new X509Certificate(devnet.acme!.caPEM).publicKey));
  } finally {
    mini.close();
  }
});

test('the CSR reader refuses mutated requests with errors, never a crash', () => {
  const good = createCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'a.devnet.internal');
  assert.deepEqual(parseCsr(good).dnsNames, ['a.devnet.internal']);
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(good);
    const n = 1 + (i % 4);
    for (let j = 0; j < n; j++) b[(i * 7919 + j * 104729) % b.length] ^= 1 + ((i + j) % 255);
    try {
      parseCsr(i % 10 === 0 ? b.subarray(0, i % b.length) : b);
    } catch (e) {
      assert.ok(e instanceof Error, 'an Error');
      refused++;
    }
  }
  assert.ok(refused > 1900, `mutations were refused (${refused})`);
});
