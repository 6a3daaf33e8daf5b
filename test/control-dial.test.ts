import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { once } from 'node:events';
import { acceptTs2021Upgrade } from '../lib/control/upgrade-server.js';
import { dialTs2021 } from '../lib/control/dial.js';
import { ControlHttp2Client } from '../lib/control/http2-client.js';
import { fetchServerKey } from '../lib/control/server-key.js';
import { generatePrivateKey, machinePublicToText, publicFromPrivate } from '../lib/wire/keys.js';
import { encodeMapFrame } from '../lib/control/framing.js';
import { runMapPoll } from '../lib/control/map-poll.js';
import type { Duplex } from 'node:stream';

async function server(onUpgrade: (req: http.IncomingMessage, sock: Duplex, head: Buffer) => void, onRequest?: http.RequestListener) {
  const srv = http.createServer(onRequest ?? ((_q, r) => r.end()));
  srv.on('upgrade', onUpgrade);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  return { srv, url: `http://127.0.0.1:${port}`, authority: `127.0.0.1:${port}` };
}

const controlPrivate = generatePrivateKey();
const controlPublic = publicFromPrivate(controlPrivate);

test('dial: the server can refuse the version with a Noise error frame', async () => {
  const { srv, url } = await server((req, sock, head) => {
    acceptTs2021Upgrade(req, sock, head, { controlPrivate, minVersion: 200 });
  });
  try {
    await assert.rejects(dialTs2021({ controlURL: url, version: 113, machinePrivate: generatePrivateKey(), controlPublic }), {
      code: 'ERR_NOISE_SERVER_ERROR',
      message: /unsupported client version 113/,
    });
  } finally {
    srv.close();
  }
});

test('dial: a wrong server key fails the handshake; a non-101 answer is ERR_UPGRADE', async () => {
  const { srv, url } = await server((req, sock, head) => {
    acceptTs2021Upgrade(req, sock, head, { controlPrivate });
  });
  try {
    await assert.rejects(
      dialTs2021({ controlURL: url, version: 113, machinePrivate: generatePrivateKey(), controlPublic: publicFromPrivate(generatePrivateKey()) }),
      { code: 'ERR_NOISE_SERVER_ERROR' },
    );
  } finally {
    srv.close();
  }
  const s2 = await server((_req, sock) => {
    sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope');
  });
  try {
    await assert.rejects(dialTs2021({ controlURL: s2.url, version: 113, machinePrivate: generatePrivateKey(), controlPublic }), { code: 'ERR_UPGRADE' });
  } finally {
    s2.srv.close();
  }
});

test('dial: timeouts are reported with ERR_TIMEOUT', async () => {
  const { srv, url } = await server(() => {
    /* never answer */
  });
  try {
    await assert.rejects(dialTs2021({ controlURL: url, version: 113, machinePrivate: generatePrivateKey(), controlPublic, timeoutMs: 200 }), { code: 'ERR_TIMEOUT' });
  } finally {
    srv.closeAllConnections();
    srv.close();
  }
});

test('GET /key: parses the key, refuses errors and huge bodies', async () => {
  const { srv, url } = await server(
    () => {},
    (req, res) => {
      if (req.url === '/key?v=113') res.end(JSON.stringify({ publicKey: machinePublicToText(controlPublic) }));
      else if (req.url === '/key?v=114') res.end('x'.repeat(100_000));
      else {
        res.statusCode = 500;
        res.end('boom');
      }
    },
  );
  try {
    assert.deepEqual(await fetchServerKey({ controlURL: url, version: 113 }), controlPublic);
    await assert.rejects(fetchServerKey({ controlURL: url, version: 114 }), { code: 'ERR_BODY_TOO_LARGE' });
    await assert.rejects(fetchServerKey({ controlURL: url, version: 115 }), { code: 'ERR_HTTP_STATUS', status: 500 });
  } finally {
    srv.close();
  }
});

test('map poll over real HTTP/2-over-Noise: oversized frame and bad JSON end the poll with coded errors', async () => {
  const h2 = http2.createServer();
  let mode = 'big';
  h2.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200 });
    stream.resume();
    if (mode === 'big') {
      const hdr = Buffer.alloc(4);
      hdr.writeUInt32LE(64 * 1024 * 1024);
      stream.write(hdr);
    } else if (mode === 'json') {
      stream.write(encodeMapFrame('{"Node":'));
    } else {
      stream.end(encodeMapFrame('{"Node":{"ID":1,"Key":"nodekey:' + '00'.repeat(32) + '"}}').subarray(0, 10));
    }
  });
  const { srv, url, authority } = await server((req, sock, head) => {
    const acc = acceptTs2021Upgrade(req, sock, head, { controlPrivate });
    if (acc) h2.emit('connection', acc.stream);
  });
  const noise = await dialTs2021({ controlURL: url, version: 113, machinePrivate: generatePrivateKey(), controlPublic });
  const c = new ControlHttp2Client(noise, authority);
  try {
    const poll = () => runMapPoll(c, { request: { Version: 113, NodeKey: 'nodekey:' + '00'.repeat(32) }, lbNodeKey: 'x', onEvent: () => {}, maxFrame: 1 << 20 });
    await assert.rejects(poll(), { code: 'ERR_FRAME_TOO_LARGE' });
    mode = 'json';
    await assert.rejects(poll(), { code: 'ERR_BAD_JSON' });
    mode = 'truncated';
    await assert.rejects(poll(), { code: 'ERR_FRAME_TRUNCATED' });
    assert.ok(!c.closed, 'the session survives a bad stream');
  } finally {
    c.destroy();
    srv.closeAllConnections();
    srv.close();
    h2.close();
  }
});

test('ts2021 over HTTPS (explicit port, test CA): handshake, early payload and HTTP/2', async () => {
  const https = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const cert = readFileSync(join(__dirname, 'fixtures/control/tls-cert.pem'));
  const key = readFileSync(join(__dirname, 'fixtures/control/tls-key.pem'));
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ path: headers[':path'], lb: headers['ts-lb'] }));
  });
  const srv = https.createServer({ key, cert }, (req, res) => {
    if (req.url?.startsWith('/key?v=')) res.end(JSON.stringify({ publicKey: machinePublicToText(controlPublic) }));
    else res.end();
  });
  srv.on('upgrade', (req, sock, head) => {
    const acc = acceptTs2021Upgrade(req, sock, head, { controlPrivate, earlyPayload: { nodeKeyChallenge: 'chalpub:' + '44'.repeat(32) } });
    if (acc) h2.emit('connection', acc.stream);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const url = `https://127.0.0.1:${(srv.address() as { port: number }).port}`;
  try {
    await assert.rejects(fetchServerKey({ controlURL: url, version: 113 }), 'untrusted certificate is refused');
    const k = await fetchServerKey({ controlURL: url, version: 113, tls: { ca: cert } });
    assert.deepEqual(k, controlPublic);
    const noise = await dialTs2021({ controlURL: url, version: 113, machinePrivate: generatePrivateKey(), controlPublic: k, tls: { ca: cert } });
    const c = new ControlHttp2Client(noise, new URL(url).host);
    const r = await c.postJSON<{ path: string; lb: string }>('/machine/whatever', { x: 1 }, { lbNodeKey: 'nodekey:' + '55'.repeat(32) });
    assert.deepEqual(r.body, { path: '/machine/whatever', lb: 'nodekey:' + '55'.repeat(32) });
    assert.deepEqual(noise.earlyPayload, { nodeKeyChallenge: 'chalpub:' + '44'.repeat(32) });
    c.destroy();
  } finally {
    srv.closeAllConnections();
    srv.close();
    h2.close();
  }
});

test('a large netmap (3000 peers, ~1 MB) crosses HTTP/2 over Noise intact', async () => {
  const peers = Array.from({ length: 3000 }, (_, i) => ({
    ID: i + 2,
    Key: 'nodekey:' + (i + 2).toString(16).padStart(64, '0'),
    Name: `peer-${i}.big.example.`,
    Addresses: [`100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`],
    Endpoints: ['192.0.2.1:41641', '[2001:db8::1]:41641'],
    Hostinfo: { Hostname: `peer-${i}`, OS: 'linux', Services: [{ Proto: 'peerapi4', Port: 12345 }] },
    HomeDERP: 1,
  }));
  const first = encodeMapFrame(JSON.stringify({ Node: { ID: 1, Key: 'nodekey:' + '01'.repeat(32), Name: 'me.big.example.' }, Peers: peers }));
  assert.ok(first.length > 500_000, String(first.length));
  const h2 = http2.createServer();
  h2.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.resume();
    stream.respond({ ':status': 200 });
    stream.write(first);
    stream.write(encodeMapFrame(JSON.stringify({ PeersRemoved: [2] })));
  });
  const { srv, url, authority } = await server((req, sock, head) => {
    const acc = acceptTs2021Upgrade(req, sock, head, { controlPrivate });
    if (acc) h2.emit('connection', acc.stream);
  });
  const noise = await dialTs2021({ controlURL: url, version: 113, machinePrivate: generatePrivateKey(), controlPublic });
  const c = new ControlHttp2Client(noise, authority);
  const ac = new AbortController();
  const counts: number[] = [];
  try {
    const poll = runMapPoll(c, {
      request: { Version: 113, NodeKey: 'nodekey:' + '01'.repeat(32) },
      lbNodeKey: 'x',
      signal: ac.signal,
      onEvent: (ev) => {
        if (ev.type === 'netmap') {
          counts.push(ev.netmap.peers.length);
          if (counts.length === 2) ac.abort(new Error('done'));
        }
      },
    });
    const err = await poll.catch((e: unknown) => e);
    assert.equal((err as Error).message, 'done');
    assert.deepEqual(counts, [3000, 2999]);
  } finally {
    c.destroy();
    srv.closeAllConnections();
    srv.close();
    h2.close();
  }
});

test('hostile peers: garbage after the upgrade or inside the Noise stream never crashes either side', async () => {
  const { randomBytes } = await import('node:crypto');
  const { connect } = await import('node:net');
  const { NoiseInitiator } = await import('../lib/control/noise.js');
  const h2 = http2.createServer();
  h2.on('sessionError', () => {});
  h2.on('stream', (s) => s.respond({ ':status': 200 }));
  let mode = 'garbage-after-101';
  const { srv, url } = await server((req, sock, head) => {
    if (mode === 'garbage-after-101') {
      sock.on('error', () => {});
      sock.end(Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n\r\n'), randomBytes(300)]));
      return;
    }
    if (mode === 'garbage-records') {
      const acc = acceptTs2021Upgrade(req, sock, head, { controlPrivate });
      if (!acc) return;
      // Valid Noise, then records whose plaintext is random (not HTTP/2).
      acc.stream.write(randomBytes(5000));
      return;
    }
    const acc = acceptTs2021Upgrade(req, sock, head, { controlPrivate });
    if (acc) h2.emit('connection', acc.stream);
  });
  try {
    for (let i = 0; i < 5; i++) {
      await assert.rejects(dialTs2021({ controlURL: url, version: 113, machinePrivate: generatePrivateKey(), controlPublic, timeoutMs: 2000 }));
    }
    mode = 'garbage-records';
    for (let i = 0; i < 5; i++) {
      const noise = await dialTs2021({ controlURL: url, version: 113, machinePrivate: generatePrivateKey(), controlPublic });
      const c = new ControlHttp2Client(noise, 'x');
      await assert.rejects(c.postJSON('/machine/register', {}));
      c.destroy();
    }
    // Hostile clients against the server side: bad headers, bad initiations, garbage records.
    mode = 'h2';
    const port = Number(new URL(url).port);
    const send = (bytes: Buffer): Promise<void> =>
      new Promise((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.on('data', () => {});
        s.end(bytes);
        setTimeout(() => s.destroy(), 300);
      });
    const upgradeReq = (hs: string, extra = Buffer.alloc(0)) =>
      Buffer.concat([Buffer.from(`POST /ts2021 HTTP/1.1\r\nHost: x\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\nX-Tailscale-Handshake: ${hs}\r\nContent-Length: 0\r\n\r\n`), extra]);
    await send(upgradeReq('!!!notbase64'));
    await send(upgradeReq(randomBytes(101).toString('base64')));
    const ini = new NoiseInitiator({ version: 113, machinePrivate: generatePrivateKey(), controlPublic });
    await send(upgradeReq(ini.initiation.toString('base64'), randomBytes(2000)));
    const ini2 = new NoiseInitiator({ version: 113, machinePrivate: generatePrivateKey(), controlPublic });
    await send(upgradeReq(ini2.initiation.toString('base64'), Buffer.from([0x04, 0xff, 0xff, 1, 2, 3])));
  } finally {
    srv.closeAllConnections();
    srv.close();
    h2.close();
  }
});
