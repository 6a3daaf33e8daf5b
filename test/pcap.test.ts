// Server#capturePcap: the node's decrypted packets, both directions, as a pcap file (LINKTYPE_RAW) that this
// test parses to find a known TCP payload going out and its answer coming in.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDevnet, type Devnet } from '../lib/devnet/index.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';

let devnet: Devnet;
let a: Server;
let b: Server;
let dir: string;

before(async () => {
  devnet = await startDevnet();
  const authKey = devnet.createAuthKey({ reusable: true });
  a = new Server({ hostname: 'pcap-a', controlURL: devnet.controlURL, authKey, store: new MemoryStore(), logLevel: 'error' });
  b = new Server({ hostname: 'pcap-b', controlURL: devnet.controlURL, authKey, store: new MemoryStore(), logLevel: 'error' });
  await Promise.all([a.up(), b.up()]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnet-pcap-'));
});

after(async () => {
  await Promise.allSettled([a.close(), b.close()]);
  await devnet.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Packet { src: string; dst: string; proto: number; payload: Buffer }

/** The records of a LINKTYPE_RAW pcap file, IPv4 packets decoded down to their TCP payload. */
function parsePcap(buf: Buffer): { linktype: number; packets: Packet[]; records: number } {
  assert.equal(buf.readUInt32LE(0), 0xa1b2c3d4);
  const linktype = buf.readUInt32LE(20);
  const packets: Packet[] = [];
  let off = 24;
  let records = 0;
  while (off + 16 <= buf.length) {
    const incl = buf.readUInt32LE(off + 8);
    const pkt = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    records++;
    if (pkt[0]! >> 4 !== 4) continue;
    const ihl = (pkt[0]! & 0x0f) * 4;
    const proto = pkt[9]!;
    const src = [...pkt.subarray(12, 16)].join('.');
    const dst = [...pkt.subarray(16, 20)].join('.');
    const l4 = pkt.subarray(ihl, pkt.readUInt16BE(2));
    const payload = proto === 6 ? l4.subarray((l4[12]! >> 4) * 4) : l4;
    packets.push({ src, dst, proto, payload });
  }
  assert.equal(off, buf.length, 'the file ends on a record boundary');
  return { linktype, packets, records };
}

test('capturePcap writes both directions of a TCP exchange as raw IP packets; close() completes the file', { timeout: 30_000 }, async () => {
  const file = path.join(dir, 'a.pcap');
  const cap = await a.capturePcap(file);
  await assert.rejects(a.capturePcap(path.join(dir, 'b.pcap')), { code: 'ERR_TSNET_CAPTURE_BUSY' });
  const ln = b.listen('tcp', ':9000');
  ln.on('connection', (s) => s.once('data', (d: Buffer) => s.end(`REPLY-${d.toString()}`)));
  const s = await a.dial('tcp', `${b.tailscaleIPs()[0]}:9000`);
  s.end('MARKER-7f3a');
  let got = '';
  for await (const d of s) got += d;
  assert.equal(got, 'REPLY-MARKER-7f3a');
  await cap.close();
  ln.close();
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const { linktype, packets, records } = parsePcap(fs.readFileSync(file));
  assert.equal(linktype, 101);
  assert.equal(records, cap.packets);
  assert.equal(cap.dropped, 0);
  const [aIP, bIP] = [a.tailscaleIPs()[0], b.tailscaleIPs()[0]];
  const out = packets.find((p) => p.proto === 6 && p.src === aIP && p.dst === bIP && p.payload.toString() === 'MARKER-7f3a');
  const back = packets.find((p) => p.proto === 6 && p.src === bIP && p.dst === aIP && p.payload.toString() === 'REPLY-MARKER-7f3a');
  assert.ok(out, 'the outgoing payload is in the capture');
  assert.ok(back, 'the answer is in the capture');
  // After close nothing more is written (the tap is off).
  const size = fs.statSync(file).size;
  const s2 = await a.dial('tcp', `${b.tailscaleIPs()[0]}:9000`).catch(() => null);
  s2?.destroy();
  assert.equal(fs.statSync(file).size, size);
});

test('capturePcap: bad arguments throw; an aborted signal rejects', async () => {
  await assert.rejects(a.capturePcap('' as string), { code: 'ERR_INVALID_ARG_TYPE' });
  await assert.rejects(a.capturePcap(path.join(dir, 'x.pcap'), { signal: AbortSignal.abort() }), { code: 'ABORT_ERR' });
  await assert.rejects(a.capturePcap(path.join(dir, 'no-such-dir', 'x.pcap')), { code: 'ENOENT' });
});
