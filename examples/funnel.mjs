// Funnel: an HTTPS server on a tailnet node that the public internet reaches (Go tsnet README, "Funnel").
// Run: node examples/funnel.mjs
// On the bundled development tailnet, a public client (plain node:https on loopback) goes through the devnet's
// Funnel ingress, which stands in for Tailscale's. With TS_CONTROL_URL/TS_AUTHKEY set (a real tailnet whose
// policy grants the node the "funnel" attribute) the server stays up at https://<name>/ until Ctrl-C.
// The certificate: FUNNEL_CERT/FUNNEL_KEY (PEM files), else a throwaway self-signed one made with openssl.
import https from 'node:https';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL
  ? null
  : await startDevnet({ policy: { acls: [{ action: 'accept', src: ['*'], dst: ['*:*'] }], nodeAttrs: [{ target: ['*'], attr: ['funnel'] }] } });
const controlURL = process.env.TS_CONTROL_URL ?? devnet.controlURL;
const key = () => process.env.TS_AUTHKEY ?? devnet.createAuthKey({ ephemeral: true });

const web = new Server({ hostname: 'web', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
const name = (await web.up()).self.Name.replace(/\.$/, '');
const tlsConfig = certificate(name);

// Public clients and (without funnelOnly) the tailnet share this listener; sockets are TLS already.
const ln = await web.listenFunnel('tcp', ':443', { tlsConfig });
ln.serve(http.createServer((req, res) => {
  const s = req.socket;
  res.end(`hello from ${name}, you are ${s.remoteAddress}:${s.remotePort}${s.funnel ? ' (through Funnel)' : ''}\n`);
}));

if (!devnet) {
  console.log(`serving https://${name}/ through Funnel; Ctrl-C to stop`);
  await new Promise((resolve) => process.once('SIGINT', resolve));
} else {
  // The devnet's ingress reaches the node over the tailnet through a node of its own.
  const ingressNode = new Server({ hostname: 'ingress', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
  await ingressNode.up();
  const ingress = await devnet.startFunnelIngress({ node: ingressNode });
  await ingress.waitRoutable(name); // control has the node's ingress Hostinfo, the ingress node has it as a peer
  const [host, port] = ingress.addresses[443].split(':');
  const body = await new Promise((resolve, reject) => {
    https.get({ host, port, servername: name, ca: tlsConfig.cert, path: '/' }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d)).on('end', () => resolve(b));
    }).on('error', reject);
  });
  process.stdout.write(`public client -> ${name}: ${body}`);
  await ingressNode.close();
}
ln.close();
await web.close();
await devnet?.close();

function certificate(cn) {
  if (process.env.FUNNEL_CERT) return { cert: fs.readFileSync(process.env.FUNNEL_CERT), key: fs.readFileSync(process.env.FUNNEL_KEY) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'funnel-example-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`], { stdio: 'ignore' });
    return { cert: fs.readFileSync(path.join(dir, 'cert.pem')), key: fs.readFileSync(path.join(dir, 'key.pem')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
