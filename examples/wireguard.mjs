// WireGuard mode: two plain WireGuard peers in this process talk HTTP over UDP on loopback.
// With a real network, use WireGuard.fromConfig(fs.readFileSync('wg0.conf', 'utf8')) instead.
// Run: node examples/wireguard.mjs
import http from 'node:http';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { WireGuard } from 'tsnet';

const keypair = () => {
  const { privateKey } = generateKeyPairSync('x25519');
  return {
    priv: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64'),
    pub: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
  };
};
const ka = keypair(), kb = keypair();

const a = new WireGuard({ privateKey: ka.priv, address: ['10.7.0.1/32'], peers: [{ publicKey: kb.pub, allowedIPs: ['10.7.0.2/32'] }] });
await a.start();
const b = new WireGuard({
  privateKey: kb.priv,
  address: ['10.7.0.2/32'],
  peers: [{ publicKey: ka.pub, endpoint: `127.0.0.1:${a.listenPort}`, allowedIPs: ['10.7.0.1/32'] }],
});
await b.start();

a.listen('tcp', ':80').serve(http.createServer((req, res) => res.end(`hi ${req.socket.remoteAddress}, from 10.7.0.1\n`)));
console.log(await (await b.fetch('http://10.7.0.1/')).text());
console.log(a.stats());

await Promise.all([a.close(), b.close()]);
