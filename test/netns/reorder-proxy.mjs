// A UDP relay that reorders (a test and bench helper): every datagram between a local client and one upstream address is forwarded at
// once, except a fraction that is held back for a few milliseconds (so later datagrams overtake it). This
// kernel has no netem, so test/tcp-loss-netns.test.ts and bench/loss.mjs put it on the WireGuard path.
//   node reorder-proxy.mjs <listenHost:port> <upstreamHost:port> <upstreamBindHost>
// Prints {"ready":true,"port":N}; then answers JSON lines on stdin:
//   {"op":"set","fraction":0.1,"delayMs":5}   hold back `fraction` of datagrams (both directions) by delayMs
//   {"op":"stats"}                             { forwarded, delayed }
import * as dgram from 'node:dgram';
import * as readline from 'node:readline';

const [listen, upstream, upBind] = process.argv.slice(2);
const split = (hp) => { const i = hp.lastIndexOf(':'); return [hp.slice(0, i), Number(hp.slice(i + 1))]; };
const [lHost, lPort] = split(listen);
const [uHost, uPort] = split(upstream);
let fraction = 0, delayMs = 0, forwarded = 0, delayed = 0;
let client; // the local sender's address, learned from its datagrams
const buf = 8 * 1024 * 1024;
const down = dgram.createSocket({ type: 'udp4', recvBufferSize: buf, sendBufferSize: buf });
const up = dgram.createSocket({ type: 'udp4', recvBufferSize: buf, sendBufferSize: buf });
const fwd = (sock, m, port, host) => {
  forwarded++;
  if (fraction > 0 && Math.random() < fraction) {
    delayed++;
    setTimeout(() => sock.send(m, port, host), delayMs);
  } else sock.send(m, port, host);
};
down.on('message', (m, r) => { client = r; fwd(up, m, uPort, uHost); });
up.on('message', (m) => { if (client) fwd(down, m, client.port, client.address); });
await Promise.all([new Promise((r) => down.bind(lPort, lHost, r)), new Promise((r) => up.bind(0, upBind, r))]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
out({ ready: true, port: down.address().port });
for await (const line of readline.createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line);
  if (cmd.op === 'set') { fraction = Number(cmd.fraction); delayMs = Number(cmd.delayMs); out({ ok: true }); }
  else if (cmd.op === 'stats') out({ forwarded, delayed });
  else if (cmd.op === 'exit') break;
}
process.exit(0);
