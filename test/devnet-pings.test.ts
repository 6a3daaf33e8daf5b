import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PingRegistry, parseHTTPResponse, serializeHTTPRequest } from '../lib/devnet/pings.js';

test('pings: c2n request serialization and response parsing', () => {
  assert.equal(
    serializeHTTPRequest({ method: 'post', path: '/echo', headers: { 'X-A': '1' }, body: 'hi' }).toString(),
    'POST /echo HTTP/1.1\r\nHost: node\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nhi',
  );
  assert.throws(() => serializeHTTPRequest({ path: 'no-slash' }), /must start with/);
  assert.throws(() => serializeHTTPRequest({ path: '/x', headers: { 'a\r\nb': 'c' } }), /CR, LF/);
  const r = parseHTTPResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'));
  assert.deepEqual([r.status, r.headers['content-type'], r.body.toString()], [200, 'text/plain', 'hello']);
  const c = parseHTTPResponse(Buffer.from('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n'));
  assert.deepEqual([c.status, c.body.toString()], [404, 'abcde']);
  assert.equal(parseHTTPResponse(Buffer.from('HTTP/1.0 204\r\n\r\n')).status, 204);
  for (const bad of ['garbage', 'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 abc\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab']) {
    assert.throws(() => parseHTTPResponse(Buffer.from(bad)), Error, bad);
  }
});

test('pings: registry answers once, times out, cancels', async (t) => {
  // The registry's timers do not hold the process open; this test must.
  const keep = setInterval(() => {}, 1000);
  t.after(() => clearInterval(keep));
  const reg = new PingRegistry();
  const a = reg.create(1000);
  assert.equal(reg.answer(a.id, { method: 'HEAD', body: Buffer.alloc(0) }), true);
  assert.equal(reg.answer(a.id, { method: 'HEAD', body: Buffer.alloc(0) }), false);
  assert.equal((await a.answer).method, 'HEAD');
  const b = reg.create(20);
  await assert.rejects(b.answer, /not answered within 20 ms/);
  const c = reg.create(1000);
  reg.cancelAll(new Error('closing'));
  await assert.rejects(c.answer, /closing/);
});
