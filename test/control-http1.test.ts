// lib/control/http1.ts: the HTTP/1.1 client of GET /key and the ts2021 upgrade, against a server that writes
// raw bytes (body framings node:http would not produce on its own, and malformed answers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { EventEmitter, once } from 'node:events';
import { decodeChunked, http1Request, parseHeaderBlock, type Http1Response } from '../lib/control/http1.js';

/** A loopback server answering each connection with `answer(request head)`'s bytes, then (if `close`) FIN. */
async function rawServer(answer: (head: string) => { bytes: string; close: boolean }): Promise<{ port: number; close: () => void; heads: string[]; events: EventEmitter }> {
  const heads: string[] = [];
  const events = new EventEmitter();
  const srv = net.createServer((s) => {
    let buf = '';
    s.on('error', () => {});
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      heads.push(buf.slice(0, end));
      events.emit('head', buf.slice(0, end));
      const a = answer(buf.slice(0, end));
      if (a.close) s.end(a.bytes, 'latin1');
      else s.write(a.bytes, 'latin1');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => srv.close(), heads, events };
}

const get = (port: number, path: string, maxBody = 1024) =>
  http1Request({ protocol: 'http:', hostname: '127.0.0.1', port }, { method: 'GET', path, headers: { Connection: 'close' }, maxBody, errorCode: 'ERR_SERVER_KEY' }) as Promise<Http1Response>;

test('http1: Content-Length, chunked, close-delimited and interim answers; the request line and Host', async () => {
  const s = await rawServer((head) => {
    const path = head.split(' ')[1];
    if (path === '/cl') return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello', close: false };
    if (path === '/chunked') return { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Trailer: 1\r\n\r\n', close: false };
    if (path === '/eof') return { bytes: 'HTTP/1.0 404 Not Found\r\n\r\nno such thing', close: true };
    if (path === '/interim') return { bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', close: false };
    return { bytes: 'garbage\r\n\r\n', close: true };
  });
  try {
    const cl = await get(s.port, '/cl');
    assert.equal(cl.status, 200);
    assert.equal(cl.body.toString(), 'hello');
    assert.equal(cl.headers.get('content-type'), 'text/plain');
    assert.equal((await get(s.port, '/chunked')).body.toString(), 'hello');
    const eof = await get(s.port, '/eof');
    assert.equal(eof.status, 404);
    assert.equal(eof.body.toString(), 'no such thing');
    assert.equal((await get(s.port, '/interim')).body.toString(), 'ok');
    await assert.rejects(get(s.port, '/bad'), { code: 'ERR_SERVER_KEY' });
    assert.equal(s.heads[0], `GET /cl HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nConnection: close`);
  } finally {
    s.close();
  }
});

test('http1: bodies past the limit, truncated answers and aborts fail with codes, never hang', async () => {
  const s = await rawServer((head) => {
    const path = head.split(' ')[1];
    if (path === '/big-cl') return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n', close: false };
    if (path === '/big-chunked') return { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n' + 'x'.repeat(4096) + '\r\n0\r\n\r\n', close: false };
    if (path === '/short') return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', close: true };
    if (path === '/bad-chunk') return { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', close: true };
    if (path === '/bad-length') return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', close: true };
    return { bytes: 'HTTP/1.1 200 OK\r\n', close: false }; // never finishes its header
  });
  try {
    await assert.rejects(get(s.port, '/big-cl'), { code: 'ERR_BODY_TOO_LARGE' });
    await assert.rejects(get(s.port, '/big-chunked'), { code: 'ERR_BODY_TOO_LARGE' });
    await assert.rejects(get(s.port, '/short'), { code: 'ERR_SERVER_KEY' });
    await assert.rejects(get(s.port, '/bad-chunk'), { code: 'ERR_SERVER_KEY' });
    await assert.rejects(get(s.port, '/bad-length'), { code: 'ERR_SERVER_KEY' });
    const ac = new AbortController();
    const received = once(s.events, 'head');
    const pending = http1Request({ protocol: 'http:', hostname: '127.0.0.1', port: s.port }, { method: 'GET', path: '/stall', signal: ac.signal, maxBody: 10, errorCode: 'ERR_SERVER_KEY' });
    // Abort once the server has the request (its head is recorded), so the client is waiting on the answer.
    assert.match(String((await received)[0]), /^GET \/stall /);
    ac.abort();
    await assert.rejects(pending, { name: 'AbortError' });
  } finally {
    s.close();
  }
});

test('http1: the header and chunk parsers refuse what is not HTTP/1.x', () => {
  assert.equal(parseHeaderBlock('HTTP/2 200'), null);
  assert.equal(parseHeaderBlock('HTTP/1.1 20 OK'), null);
  assert.equal(parseHeaderBlock('HTTP/1.1 200 OK\r\nno colon here'), null);
  assert.equal(parseHeaderBlock('HTTP/1.1 200 OK\r\nbad name: x'), null);
  const h = parseHeaderBlock('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tailscale-control-protocol\r\nX-A: 1\r\nx-a: 2');
  assert.equal(h?.status, 101);
  assert.equal(h?.headers.get('upgrade'), 'tailscale-control-protocol');
  assert.equal(h?.headers.get('x-a'), '1, 2');
  assert.equal(decodeChunked(Buffer.from('5\r\nhel'), 100), 'more');
  assert.equal(decodeChunked(Buffer.from('5\r\nhelloXX'), 100), null);
  assert.equal(decodeChunked(Buffer.from('ffffffff\r\n'), 100), 'large');
  assert.deepEqual(decodeChunked(Buffer.from('0\r\n\r\n'), 100), Buffer.alloc(0));
});
