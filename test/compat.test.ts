// Everyday Node libraries over tailnet sockets, unchanged: https (node:tls), undici (request and fetch),
// ws, express, stream.pipeline through zlib, and the timeout and error semantics of node:net. Every test runs
// over two devices joined by an in-process memory link, over two WireGuard nodes talking UDP on 127.0.0.1, and
// over real TCP on 127.0.0.1: the reference that shows what Node itself does, which the tailnet must match.
import { test, describe, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tls from 'node:tls';
import * as zlib from 'node:zlib';
import express from 'express';
import { Agent, fetch, request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { Netstack } from '../lib/net/netstack.js';
import type { TailnetListener } from '../lib/net/listener.js';
import { WireGuard } from '../lib/wireguard.js';
import { generateKeyPair } from '../lib/wire/keys.js';

// A self-signed certificate for "compat.test" (and IP SANs 100.64.0.2, 10.77.0.2), test use only.
const FIXTURES = path.join(__dirname, 'fixtures', 'compat');
const KEY = fs.readFileSync(path.join(FIXTURES, 'key.pem'));
const CERT = fs.readFileSync(path.join(FIXTURES, 'cert.pem'));
const SERVERNAME = 'compat.test';

// ---- transports -------------------------------------------------------------------------------------------

interface Accepting {
  port: number;
  /** connections accepted so far */
  accepted(): number;
  /** stops accepting new connections (the tailnet listener; for loopback, the net.Server) */
  close(): void;
}

interface Net {
  name: string;
  /** the address the server side is reached at, and the address the client side dials from */
  serverAddr: string;
  clientAddr: string;
  /** a raw listener: every accepted socket goes to onConnection */
  listen(opts: { allowHalfOpen?: boolean }, onConnection: (s: net.Socket) => void): Promise<Accepting>;
  /** hands the connections of a fresh listener to server (listener.serve, or server.listen on loopback) */
  serve(server: net.Server): Promise<Accepting>;
  /** dials port on serverAddr (or host), returning the socket at once as net.connect does */
  connect(port: number, opts?: { host?: string; allowHalfOpen?: boolean }): net.Socket;
}

function tailnet(name: string, server: () => { listen: Netstack['listen'] }, client: () => { connect: (...a: Parameters<Netstack['connect']>) => net.Socket }, serverAddr: string, clientAddr: string): Net {
  const listen = async (opts: { allowHalfOpen?: boolean }): Promise<TailnetListener> => {
    const ln = server().listen('tcp', ':0', opts);
    await once(ln, 'listening');
    return ln;
  };
  const accepting = (ln: TailnetListener): Accepting => {
    let n = 0;
    ln.on('connection', () => n++);
    return { port: ln.address().port, accepted: () => n, close: () => ln.close() };
  };
  return {
    name,
    serverAddr,
    clientAddr,
    async listen(opts, onConnection) {
      const ln = await listen(opts);
      const acc = accepting(ln);
      ln.on('connection', onConnection);
      return acc;
    },
    async serve(srv) {
      const ln = await listen({});
      const acc = accepting(ln);
      ln.serve(srv);
      return acc;
    },
    connect(port, opts = {}) {
      const host = opts.host ?? serverAddr;
      return client().connect('tcp', host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, { allowHalfOpen: opts.allowHalfOpen ?? false });
    },
  };
}

const loopback: Net = {
  name: 'loopback TCP (reference)',
  serverAddr: '127.0.0.1',
  clientAddr: '127.0.0.1',
  async listen(opts, onConnection) {
    const srv = net.createServer({ allowHalfOpen: opts.allowHalfOpen ?? false }, onConnection);
    return this.serve(srv);
  },
  async serve(srv) {
    let n = 0;
    srv.on('connection', () => n++);
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    return { port: (srv.address() as net.AddressInfo).port, accepted: () => n, close: () => srv.close() };
  },
  connect(port, opts = {}) {
    return net.connect({ host: opts.host ?? '127.0.0.1', port, allowHalfOpen: opts.allowHalfOpen ?? false });
  },
};

let a: Netstack;
let b: Netstack;
let wa: WireGuard;
let wb: WireGuard;

const memory = tailnet('memory link', () => b, () => a, '100.64.0.2', '100.64.0.1');
const memory6 = tailnet('memory link, IPv6', () => b, () => a, 'fd7a:115c:a1e0::2', 'fd7a:115c:a1e0::1');
const wireguard = tailnet('WireGuard over 127.0.0.1', () => wb, () => wa, '10.77.0.2', '10.77.0.1');

before(async () => {
  a = new Netstack();
  b = new Netstack();
  a.addAddress('100.64.0.1');
  a.addAddress('fd7a:115c:a1e0::1');
  b.addAddress('100.64.0.2');
  b.addAddress('fd7a:115c:a1e0::2');
  a.device.linkMemory(b.device);

  const ka = generateKeyPair();
  const kb = generateKeyPair();
  wa = new WireGuard({ privateKey: ka.privateKey.toString('base64'), address: ['10.77.0.1/32'] });
  wb = new WireGuard({ privateKey: kb.privateKey.toString('base64'), address: ['10.77.0.2/32'] });
  await wa.start();
  await wb.start();
  await wa.addPeer({ publicKey: kb.publicKey.toString('base64'), endpoint: `127.0.0.1:${wb.listenPort}`, allowedIPs: ['10.77.0.2/32'] });
  await wb.addPeer({ publicKey: ka.publicKey.toString('base64'), endpoint: `127.0.0.1:${wa.listenPort}`, allowedIPs: ['10.77.0.1/32'] });
});

after(async () => {
  a.close();
  b.close();
  await wa.close();
  await wb.close();
});

// ---- helpers ----------------------------------------------------------------------------------------------

// Reads to the end without destroying the stream.
const collect = (s: NodeJS.ReadableStream): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer | string) => parts.push(Buffer.from(c)));
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });

const sha256 = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref())]);

/** An http.Agent whose connections go over n. */
function agentOver(n: Net, opts: http.AgentOptions = {}): http.Agent {
  const agent = new http.Agent(opts);
  if (n !== loopback) {
    agent.createConnection = ((o: { host?: string; port?: number }) => n.connect(Number(o.port), { host: o.host ?? n.serverAddr })) as typeof agent.createConnection;
  }
  return agent;
}

function httpRequest(opts: http.RequestOptions, body?: string | Buffer): Promise<{ res: http.IncomingMessage; body: Buffer; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    let socket!: net.Socket;
    const req = http.request(opts, (res) => collect(res).then((b) => resolve({ res, body: b, socket }), reject));
    req.once('socket', (s) => (socket = s));
    req.on('error', reject);
    req.end(body);
  });
}

const hostPort = (n: Net, port: number) => (n.serverAddr.includes(':') ? `[${n.serverAddr}]:${port}` : `${n.serverAddr}:${port}`);

// ---- libraries --------------------------------------------------------------------------------------------

for (const n of [loopback, memory, wireguard]) {
  describe(`libraries over ${n.name}`, () => {
    test('https: https.Server behind listener.serve, https.request through tls.connect({ socket })', async () => {
      const server = https.createServer({ key: KEY, cert: CERT }, (req, res) => {
        const s = req.socket as tls.TLSSocket;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ url: req.url, method: req.method, protocol: s.getProtocol(), encrypted: s.encrypted, sni: (s as tls.TLSSocket & { servername?: string }).servername }));
      });
      const acc = await n.serve(server);
      const { res, body } = await new Promise<{ res: http.IncomingMessage; body: Buffer }>((resolve, reject) => {
        const req = https.request(
          {
            host: n.serverAddr,
            port: acc.port,
            path: '/hello?x=1',
            createConnection: () => tls.connect({ socket: n.connect(acc.port), ca: CERT, servername: SERVERNAME }),
          },
          (r) => collect(r).then((b) => resolve({ res: r, body: b }), reject),
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(JSON.parse(body.toString()), { url: '/hello?x=1', method: 'GET', protocol: 'TLSv1.3', encrypted: true, sni: SERVERNAME });
      const tlsSock = res.socket as tls.TLSSocket;
      assert.equal(tlsSock.authorized, true, `not authorized: ${tlsSock.authorizationError}`);
      assert.equal(tlsSock.getPeerCertificate().subject.CN, SERVERNAME);

      // Without the CA the handshake fails verification, as over any TCP socket.
      const bad = tls.connect({ socket: n.connect(acc.port), servername: SERVERNAME });
      const [err] = (await once(bad, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
      assert.match(String(err.code), /SELF_SIGNED/);

      // undici as an https client over the same listener: its connector wraps our socket in TLS.
      const dispatcher = new Agent({
        connect: (o, cb) => cb(null, tls.connect({ socket: n.connect(Number(o.port)), ca: CERT, servername: SERVERNAME })),
      });
      const r2 = await request(`https://${hostPort(n, acc.port)}/undici`, { dispatcher });
      assert.equal(r2.statusCode, 200);
      assert.equal(((await r2.body.json()) as { url: string }).url, '/undici');
      await dispatcher.close();
      server.close();
      acc.close();
    });

    test(
      'https: the server sees the client\'s tailnet address through TLS (req.socket.remoteAddress)',
      {},
      async () => {
        const server = https.createServer({ key: KEY, cert: CERT }, (req, res) => {
          res.end(JSON.stringify({ remote: req.socket.remoteAddress ?? null, family: req.socket.remoteFamily ?? null, local: req.socket.localAddress ?? null }));
        });
        const acc = await n.serve(server);
        const { body } = await new Promise<{ body: Buffer }>((resolve, reject) => {
          const req = https.request(
            { host: n.serverAddr, port: acc.port, createConnection: () => tls.connect({ socket: n.connect(acc.port), ca: CERT, servername: SERVERNAME }) },
            (r) => collect(r).then((b) => resolve({ body: b }), reject),
          );
          req.on('error', reject);
          req.end();
        });
        const seen = JSON.parse(body.toString());
        server.close();
        acc.close();
        assert.deepEqual(seen, { remote: n.clientAddr, family: 'IPv4', local: n.serverAddr });
    },
    );

    test('undici: Agent({ connect }) with request and fetch, a 1 MiB POST (sha256), keep-alive on one connection', async () => {
      const server = http.createServer(async (req, res) => {
        const body = await collect(req);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, length: body.length, sha256: sha256(body), port: req.socket.remotePort, from: req.socket.remoteAddress }));
      });
      const acc = await n.serve(server);
      let dialed = 0;
      const dispatcher = new Agent({
        connections: 1, // undici's pool otherwise alternates two connections for sequential requests, on loopback too
        connect: (o, cb) => {
          dialed++;
          cb(null, n.connect(Number(o.port) || 80, { host: o.hostname }));
        },
      });
      const base = `http://${hostPort(n, acc.port)}`;
      type Echo = { method: string; url: string; length: number; sha256: string; port: number; from: string };

      const r1 = await request(`${base}/one`, { dispatcher });
      assert.equal(r1.statusCode, 200);
      const e1 = (await r1.body.json()) as Echo;
      assert.deepEqual({ method: e1.method, url: e1.url, length: e1.length, from: e1.from }, { method: 'GET', url: '/one', length: 0, from: n.clientAddr });

      const payload = randomBytes(1024 * 1024);
      const r2 = await request(`${base}/upload`, { method: 'POST', body: payload, dispatcher });
      const e2 = (await r2.body.json()) as Echo;
      assert.equal(e2.length, payload.length);
      assert.equal(e2.sha256, sha256(payload));

      const r3 = await fetch(`${base}/fetched`, { dispatcher, method: 'POST', body: new Uint8Array(payload.subarray(0, 300_000)), headers: { 'x-test': '1' } });
      assert.equal(r3.status, 200);
      assert.equal(r3.headers.get('content-type'), 'application/json');
      const e3 = (await r3.json()) as Echo;
      assert.equal(e3.sha256, sha256(payload.subarray(0, 300_000)));

      // A streamed request body (chunked, no content-length) through fetch.
      const r4 = await fetch(`${base}/stream`, { dispatcher, method: 'PUT', body: Readable.toWeb(Readable.from([payload.subarray(0, 70_000), payload.subarray(70_000)])) as ReadableStream, duplex: 'half' } as RequestInit & { duplex: 'half' });
      const e4 = (await r4.json()) as Echo;
      assert.equal(e4.sha256, sha256(payload));

      const ports = [e1.port, e2.port, e3.port, e4.port];
      for (let i = 0; i < 5; i++) {
        const r = await request(`${base}/again/${i}`, { dispatcher });
        ports.push(((await r.body.json()) as Echo).port);
      }
      assert.equal(new Set(ports).size, 1, `requests used several client ports: ${ports}`);
      assert.equal(acc.accepted(), 1, 'the listener saw more than one connection');
      assert.equal(dialed, 1);
      await dispatcher.close();
      server.close();
      acc.close();
    });

    test('ws: WebSocketServer({ noServer }) on an http server, text, 256 KiB binary, close codes both ways', async () => {
      const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
      const server = http.createServer((_req, res) => res.writeHead(426).end());
      server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
      const serverCloses: Array<[number, string]> = [];
      const remotes: string[] = [];
      wss.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
        remotes.push(`${req.socket.remoteAddress} ${req.url}`);
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          if (!isBinary && data.toString() === 'please close') ws.close(4002, 'server says bye');
          else ws.send(data, { binary: isBinary });
        });
        ws.on('close', (code: number, reason: Buffer) => serverCloses.push([code, reason.toString()]));
      });
      const acc = await n.serve(server);
      const open = async (p: string): Promise<WebSocket> => {
        const ws = new WebSocket(`ws://${hostPort(n, acc.port)}${p}`, { createConnection: (() => n.connect(acc.port)) as unknown as typeof net.createConnection });
        await once(ws, 'open');
        return ws;
      };
      const next = (ws: WebSocket) => once(ws, 'message') as Promise<[Buffer, boolean]>;

      const ws = await open('/chat');
      assert.match(ws.extensions, /permessage-deflate/);
      let got = next(ws);
      ws.send('hello, tailnet');
      const [text, textBinary] = await got;
      assert.equal(textBinary, false);
      assert.equal(text.toString(), 'hello, tailnet');

      const blob = randomBytes(256 * 1024);
      got = next(ws);
      ws.send(blob);
      const [echo, echoBinary] = await got;
      assert.equal(echoBinary, true);
      assert.equal(sha256(echo), sha256(blob));

      const closed = once(ws, 'close') as Promise<[number, Buffer]>;
      ws.close(4001, 'client says bye');
      const [code, reason] = await closed;
      assert.deepEqual([code, reason.toString()], [4001, 'client says bye']);

      const ws2 = await open('/second');
      const closed2 = once(ws2, 'close') as Promise<[number, Buffer]>;
      ws2.send('please close');
      const [code2, reason2] = await closed2;
      assert.deepEqual([code2, reason2.toString()], [4002, 'server says bye']);

      await within(new Promise<void>((r) => { const t = setInterval(() => serverCloses.length === 2 && (clearInterval(t), r()), 10); }), 5000, 'server close events');
      assert.deepEqual(serverCloses, [[4001, 'client says bye'], [4002, 'server says bye']]);
      assert.deepEqual(remotes, [`${n.clientAddr} /chat`, `${n.clientAddr} /second`]);
      wss.close();
      server.close();
      acc.close();
    });

    for (const nn of n === memory ? [memory, memory6] : [n]) {
      test(`express: JSON body parsing, status codes, req.ip is the dialer's address (${nn.serverAddr.includes(':') ? 'IPv6' : 'IPv4'})`, async () => {
        const app = express();
        app.set('env', 'test'); // finalhandler: no stack traces on stderr for the deliberate 400
        app.use(express.json());
        const items: unknown[] = [];
        app.post('/items', (req, res) => {
          items.push(req.body);
          res.status(201).json({ id: items.length, item: req.body, ip: req.ip, remote: req.socket.remoteAddress, family: req.socket.remoteFamily });
        });
        app.get('/items/:id', (req, res) => {
          const item = items[Number(req.params.id) - 1];
          if (item === undefined) res.status(404).json({ error: 'no such item' });
          else res.json(item);
        });
        const server = http.createServer(app);
        const acc = await nn.serve(server);
        const agent = agentOver(nn, { keepAlive: true });
        const opts = { host: nn.serverAddr, port: acc.port, agent };
        const json = { headers: { 'content-type': 'application/json' } };

        const item = { name: 'widget', tags: ['a', 'b'], nested: { n: 1.5, ok: true } };
        const created = await httpRequest({ ...opts, ...json, method: 'POST', path: '/items' }, JSON.stringify(item));
        assert.equal(created.res.statusCode, 201);
        assert.match(String(created.res.headers['content-type']), /^application\/json/);
        assert.deepEqual(JSON.parse(created.body.toString()), { id: 1, item, ip: nn.clientAddr, remote: nn.clientAddr, family: nn.clientAddr.includes(':') ? 'IPv6' : 'IPv4' });

        const fetched = await httpRequest({ ...opts, path: '/items/1' });
        assert.equal(fetched.res.statusCode, 200);
        assert.deepEqual(JSON.parse(fetched.body.toString()), item);
        assert.equal((await httpRequest({ ...opts, path: '/items/7' })).res.statusCode, 404);
        const malformed = await httpRequest({ ...opts, ...json, method: 'POST', path: '/items' }, '{"name": ');
        assert.equal(malformed.res.statusCode, 400);
        assert.equal(acc.accepted(), 1, 'the keep-alive agent should have reused one connection');
        agent.destroy();
        server.close();
        acc.close();
      });
    }

    test('stream.pipeline: gzip through zlib in both directions with a Transform on the server', async () => {
      // The server inflates what arrives, flips every byte, deflates and sends it back; both ends half-close.
      const flip = () => new Transform({
        transform(chunk: Buffer, _enc, cb) {
          const out = Buffer.allocUnsafe(chunk.length);
          for (let i = 0; i < chunk.length; i++) out[i] = chunk[i]! ^ 0xff;
          cb(null, out);
        },
      });
      const serverDone: Array<Promise<void>> = [];
      const acc = await n.listen({ allowHalfOpen: true }, (s) => {
        serverDone.push(pipeline(s, zlib.createGunzip(), flip(), zlib.createGzip(), s));
      });
      const text = Buffer.from('the quick brown fox jumps over the lazy tailnet\n'.repeat(40_000));
      const payload = Buffer.concat([text, randomBytes(1024 * 1024), text]);
      const expected = Buffer.from(payload.map((x) => x ^ 0xff));

      const s = n.connect(acc.port, { allowHalfOpen: true });
      const received: Buffer[] = [];
      await Promise.all([
        pipeline(Readable.from((function* () { for (let i = 0; i < payload.length; i += 100_000) yield payload.subarray(i, i + 100_000); })()), zlib.createGzip(), s),
        pipeline(s, zlib.createGunzip(), new Writable({ write(c: Buffer, _e, cb) { received.push(c); cb(); } })),
      ]);
      const out = Buffer.concat(received);
      assert.equal(out.length, expected.length);
      assert.equal(sha256(out), sha256(expected));
      assert.ok(s.bytesWritten < payload.length, `gzip should have shrunk the upload (${s.bytesWritten} bytes on the wire)`);
      await Promise.all(serverDone);
      acc.close();
    });
  });
}

// ---- timeouts and errors, against node:net over 127.0.0.1 -------------------------------------------------

/** Resolves with the next accepted socket. */
async function pairOver(n: Net, opts: { allowHalfOpen?: boolean } = {}): Promise<{ client: net.Socket; peer: net.Socket; acc: Accepting }> {
  let resolvePeer!: (s: net.Socket) => void;
  const peerP = new Promise<net.Socket>((r) => (resolvePeer = r));
  const acc = await n.listen(opts, resolvePeer);
  const client = n.connect(acc.port, opts);
  await once(client, 'connect');
  const peer = await peerP;
  return { client, peer, acc };
}

interface Outcome {
  events: string[];
  error?: string | undefined;
  hadError?: boolean;
}

/** Records a socket's 'end', 'error' (code) and 'close' (hadError) until it closes. */
function watch(s: net.Socket): Promise<Outcome> {
  const o: Outcome = { events: [] };
  s.on('end', () => o.events.push('end'));
  s.on('error', (e: NodeJS.ErrnoException) => {
    o.events.push('error');
    o.error = e.code ?? e.message;
  });
  return new Promise((resolve) => s.once('close', (hadError: boolean) => {
    o.events.push('close');
    o.hadError = hadError;
    resolve(o);
  }));
}

for (const n of [loopback, memory, wireguard]) {
  describe(`timeouts and errors over ${n.name}`, () => {
    test('socket.setTimeout fires on an idle connection, leaves it open, and re-arms after traffic', async () => {
      const { client, peer, acc } = await pairOver(n);
      peer.on('data', (d) => peer.write(d));
      const t0 = Date.now();
      client.setTimeout(100);
      await once(client, 'timeout');
      assert.ok(Date.now() - t0 >= 90, `fired after ${Date.now() - t0} ms`);
      assert.equal(client.destroyed, false);
      client.write('ping');
      const [echo] = (await once(client, 'data')) as [Buffer];
      assert.equal(echo.toString(), 'ping');
      const t1 = Date.now();
      await once(client, 'timeout');
      assert.ok(Date.now() - t1 >= 90);
      // The accepted side too, through http's use of it: server.timeout closes an idle request socket.
      peer.setTimeout(50);
      await once(peer, 'timeout');
      const closed = watch(client);
      peer.end();
      assert.deepEqual((await closed).events, ['end', 'close']);
      acc.close();
    });

    test('http keep-alive: the server keepAliveTimeout closes an idle connection', async () => {
      const server = http.createServer((_req, res) => res.end('ok'));
      server.keepAliveTimeout = 150;
      const acc = await n.serve(server);
      // A raw client: http.Agent would drop the socket itself on the "Keep-Alive: timeout=0" hint.
      const s = n.connect(acc.port);
      const closed = watch(s);
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      s.write(`GET / HTTP/1.1\r\nHost: ${n.serverAddr}\r\n\r\n`);
      await within(new Promise<void>((r) => { const t = setInterval(() => text.endsWith('\r\n\r\nok') && (clearInterval(t), r()), 5); }), 3000, 'the response');
      const t0 = Date.now();
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nConnection: keep-alive\r\n/i);
      const o = await within(closed, 3000, 'the server closing the idle connection');
      assert.ok(Date.now() - t0 >= 100, `closed after ${Date.now() - t0} ms`);
      assert.deepEqual(o, { events: ['end', 'close'], hadError: false });
      server.close();
      acc.close();
    });

    test(
      'http server.close() with keep-alive: idle connections close at once, the in-flight request completes, "close" waits for it',
      {},
      async () => {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        let inHandler: () => void = () => {};
        const slowStarted = new Promise<void>((r) => (inHandler = r));
        const server = http.createServer((req, res) => {
          if (req.url === '/slow') {
            inHandler();
            void gate.then(() => res.end('slow done'));
          } else res.end('fast');
        });
        const acc = await n.serve(server);
        const idleAgent = agentOver(n, { keepAlive: true });
        const busyAgent = agentOver(n, { keepAlive: true });
        const opts = { host: n.serverAddr, port: acc.port };
        const first = await httpRequest({ ...opts, agent: idleAgent, path: '/fast' });
        assert.equal(first.body.toString(), 'fast');
        const idleClosed = watch(first.socket);
        assert.equal(first.socket.destroyed, false, 'the keep-alive agent keeps the connection');
        const slow = httpRequest({ ...opts, agent: busyAgent, path: '/slow' });
        await slowStarted; // the slow request is in its handler now

        if (n !== loopback) acc.close(); // stop accepting (on loopback server.close() does that itself)
        let serverClosed = false;
        let closeCallback: string | undefined = 'not called';
        const closing = new Promise<void>((r) => server.close((err) => {
          serverClosed = true;
          closeCallback = (err as NodeJS.ErrnoException | undefined)?.code;
          r();
        }));
        const seen: Record<string, unknown> = {};
        // Node >= 19: close() closes idle keep-alive connections at once...
        seen.idleConnection = await within(idleClosed, 1000, '').then((o) => o.events, () => 'still open 1 s after server.close()');
        // ...but the server is not closed while a request is in flight.
        seen.closedWhileBusy = serverClosed;
        // New connections are refused.
        seen.newConnection = await new Promise((r) => {
          const s = n.connect(acc.port);
          s.once('connect', () => { s.destroy(); r('accepted'); });
          s.once('error', (e: NodeJS.ErrnoException) => r(e.code));
        });
        release();
        seen.inFlight = (await slow).body.toString();
        busyAgent.destroy(); // the last connection goes away: now 'close'
        await within(closing, 3000, "server 'close'").catch(() => undefined);
        seen.closeCallback = closeCallback;
        idleAgent.destroy();
        assert.deepEqual(seen, {
          idleConnection: ['end', 'close'],
          closedWhileBusy: false,
          newConnection: 'ECONNREFUSED',
          inFlight: 'slow done',
          closeCallback: undefined,
        });
      },
    );

    test('destroy(err): the destroyer gets error and close(hadError); the peer sees a clean end', async () => {
      const { client, peer, acc } = await pairOver(n);
      const mine = watch(client);
      const theirs = watch(peer);
      client.destroy(Object.assign(new Error('boom'), { code: 'EBOOM' }));
      assert.deepEqual(await mine, { events: ['error', 'close'], error: 'EBOOM', hadError: true });
      assert.deepEqual(await within(theirs, 3000, 'the peer closing'), { events: ['end', 'close'], hadError: false });
      acc.close();
    });

    test('destroy(err) with unread data in the receive buffer: the peer gets ECONNRESET', async () => {
      const { client, peer, acc } = await pairOver(n);
      client.pause();
      peer.write(randomBytes(1024 * 1024)); // more than the readable stream's highWaterMark pulls in
      // Wait until part of it is in the client's receive buffer, unread (the test's timeout bounds this).
      while (client.readableLength === 0) await new Promise((r) => setImmediate(r));
      const theirs = watch(peer);
      client.destroy(new Error('boom'));
      client.on('error', () => {});
      // Linux answers data arriving for a closed socket, and the close of one with unread data, with RST.
      const timer = setInterval(() => peer.writable && peer.write('x'), 20);
      const o = await within(theirs, 3000, 'the peer closing');
      clearInterval(timer);
      assert.equal(o.error, 'ECONNRESET', JSON.stringify(o));
      assert.equal(o.hadError, true);
      acc.close();
    });

    test('resetAndDestroy(): the peer gets ECONNRESET and close(hadError)', async () => {
      const { client, peer, acc } = await pairOver(n);
      const theirs = watch(peer);
      client.resetAndDestroy();
      const o = await within(theirs, 3000, 'the peer closing');
      assert.equal(o.error, 'ECONNRESET');
      assert.equal(o.hadError, true);
      acc.close();
    });

    test(
      "a socket carries no 'close' listeners of its own, as node:net (they count against the user's MaxListeners)",
      {},
      async () => {
        const { client, peer, acc } = await pairOver(n);
        const counts = { dialed: client.listenerCount('close'), accepted: peer.listenerCount('close') };
        client.destroy();
        peer.destroy();
        acc.close();
        assert.deepEqual(counts, { dialed: 0, accepted: 0 });
      },
    );

    test('write after end: ERR_STREAM_WRITE_AFTER_END to the callback and as an error event', async () => {
      const { client, peer, acc } = await pairOver(n);
      peer.resume();
      const errored = once(client, 'error') as Promise<[NodeJS.ErrnoException]>;
      client.end('last words');
      const cbErr = await new Promise<NodeJS.ErrnoException | null | undefined>((r) => client.write('too late', r));
      assert.equal(cbErr?.code, 'ERR_STREAM_WRITE_AFTER_END');
      assert.equal((await errored)[0].code, 'ERR_STREAM_WRITE_AFTER_END');
      client.destroy();
      peer.destroy();
      acc.close();
    });

    test('the peer ending: "end" then automatic close without allowHalfOpen; data before the FIN arrives', async () => {
      const { client, peer, acc } = await pairOver(n);
      const o = watch(client);
      const data = collect(client);
      peer.end('goodbye');
      assert.equal((await data).toString(), 'goodbye');
      assert.deepEqual(await within(o, 3000, 'client close'), { events: ['end', 'close'], hadError: false });
      acc.close();
    });
  });
}
