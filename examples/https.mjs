// HTTPS on a tailnet node with a certificate for its MagicDNS name (Go tsnet's ListenTLS), and a second node
// fetching from it over https, verifying the certificate.
// Run: node examples/https.mjs   (uses the bundled development tailnet and its ACME server and test CA; on a
// real tailnet with HTTPS enabled, set TS_CONTROL_URL/TS_AUTHKEY and the certificate comes from Let's Encrypt)
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { Server, MemoryStore } from 'tsnet';
import { startDevnet } from 'tsnet/devnet';

const devnet = process.env.TS_CONTROL_URL ? null : await startDevnet({ acme: true });
const controlURL = process.env.TS_CONTROL_URL ?? devnet.controlURL;
const key = () => process.env.TS_AUTHKEY ?? devnet.createAuthKey({ ephemeral: true });
// The devnet's ACME server and the CA it issues under; a real tailnet needs neither option.
const acme = devnet ? { acmeDirectoryURL: devnet.acme.directoryURL, acmeCA: devnet.acme.caPEM } : {};

const web = new Server({ hostname: 'web', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore(), ...acme });
await web.up();
const [domain] = web.certDomains(); // e.g. web.devnet.internal
web.listenTLS('tcp', ':443').serve(http.createServer((req, res) => res.end(`hello from https://${domain}${req.url}\n`)));

const cli = new Server({ hostname: 'cli', controlURL, authKey: key(), ephemeral: true, store: new MemoryStore() });
await cli.up();
const body = await new Promise((resolve, reject) => {
  const req = https.get({
    host: domain,
    path: '/',
    ca: devnet?.acme.caPEM, // on a real tailnet: Node's own roots
    // The TCP connection goes through the tailnet; TLS (and its hostname check) is Node's own.
    createConnection: (opts, cb) => {
      cli.dial('tcp', `${domain}:443`).then((socket) => cb(null, tls.connect({ ...opts, socket, servername: domain })), cb);
    },
  }, (res) => {
    let b = '';
    res.on('data', (c) => (b += c));
    res.on('end', () => resolve(`${res.socket.authorized ? 'verified' : 'NOT verified'}: ${b}`));
  });
  req.on('error', reject);
});
process.stdout.write(body);

await Promise.all([web.close(), cli.close()]);
await devnet?.close();
