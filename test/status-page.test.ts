// The status pages (docs/cli.md, "Status pages") in a real browser: headless Chromium loads the devnet's page
// and a node's page, the DOM holds the nodes, and a screenshot is a real styled rendering (expected size,
// many colours, the header bar in its colour: the stylesheet passed the Content-Security-Policy).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { startDevnet } from '../lib/devnet/index.js';
import { devnetPage } from '../lib/devnet/status-page.js';
import { nodePage } from '../lib/loopback/status-page.js';
import { MemoryStore } from '../lib/control/store.js';
import { Server } from '../lib/server.js';
import { dumpDOM, findChromium, screenshot } from './fixtures/browser/chromium.js';
import { distinctColours, pixel, readPNG } from './fixtures/browser/png.js';

const W = 1280;
const H = 900;
// The header bar's background in lib/util/web-page.ts.
const HEADER: [number, number, number] = [0x1d, 0x23, 0x30];

const POLICY = `{
  // HuJSON, shown as written
  "tagOwners": { "tag:web": ["dev@example.com"] },
  "acls": [{ "action": "accept", "src": ["*"], "dst": ["*:*"] }],
}`;

function chromium(): string {
  const bin = findChromium();
  // Linux test machines get it from scripts/test-deps.sh; elsewhere it must be installed by hand.
  assert.ok(bin, 'chromium is needed for the status page tests: run scripts/test-deps.sh (Debian: apt-get install chromium)');
  return bin;
}

async function checkScreenshot(bin: string, url: string): Promise<void> {
  const img = readPNG(await screenshot(bin, url, W, H));
  assert.deepEqual([img.width, img.height], [W, H]);
  // A blank or unstyled page has a handful of colours; text with anti-aliasing, pills and borders many more.
  assert.ok(distinctColours(img) > 40, `only ${distinctColours(img)} colours`);
  assert.deepEqual(pixel(img, 4, 4), HEADER, 'the header bar is drawn: the stylesheet applied');
  assert.notDeepEqual(pixel(img, W / 2, H - 4), HEADER);
}

function wantLoginURL(): { userLogf: (m: string) => void; url: Promise<string> } {
  let resolve: (u: string) => void = () => undefined;
  const url = new Promise<string>((r) => (resolve = r));
  return {
    userLogf: (m) => {
      const u = /https?:\/\/\S+\/register\/[0-9a-f]+/.exec(m)?.[0];
      if (u) resolve(u);
    },
    url,
  };
}

test('the devnet status page in Chromium: nodes, traffic, a pending login and the policy; a real rendering', { timeout: 120_000 }, async () => {
  const bin = chromium();
  const devnet = await startDevnet({ admin: true, policy: POLICY });
  const key = devnet.createAuthKey({ reusable: true, ephemeral: true });
  // alpha relays everything, so the relay has traffic to show for both.
  const a = new Server({ hostname: 'page-alpha', controlURL: devnet.controlURL, authKey: key, ephemeral: true, store: new MemoryStore(), alwaysUseDERP: true });
  const b = new Server({ hostname: 'page-beta', controlURL: devnet.controlURL, authKey: key, ephemeral: true, store: new MemoryStore() });
  const login = wantLoginURL();
  const waiting = new Server({ hostname: 'page-waiting', controlURL: devnet.controlURL, store: new MemoryStore(), userLogf: login.userLogf });
  try {
    await Promise.all([a.up(), b.up()]);
    b.listen('tcp', ':80').serve(http.createServer((_req, res) => res.end('beta\n')));
    assert.equal(await (await a.fetch('http://page-beta/')).text(), 'beta\n');
    const alpha = devnet.nodes().find((n) => n.hostname === 'page-alpha')!;
    const relayed = devnet.relay!.derp.clientTraffic().get(alpha.nodeKey);
    assert.ok(relayed && relayed.txBytes > 0 && relayed.rxBytes > 0 && relayed.txPackets > 0, 'the relay counts alpha\'s traffic');
    void waiting.up().catch(() => undefined);
    await login.url;
    const url = devnet.admin!.pageURL;
    const dom = await dumpDOM(bin, url);
    for (const want of ['page-alpha', 'page-beta', 'page-waiting', 'tag:web', '// HuJSON, shown as written', devnet.controlURL, 'tsnet devnet approve']) {
      assert.ok(dom.includes(want), `the page shows ${want}`);
    }
    assert.match(dom, /2 online of 2/);
    assert.match(dom, /↑ [\d.]+ (B|KiB) <span class="muted">\([1-9]\d*\)<\/span><br>↓ [\d.]+ (B|KiB) <span class="muted">\([1-9]\d*\)<\/span>/, 'relayed traffic shown');
    assert.match(dom, /DERP region 900 \(connected\)/);
    await checkScreenshot(bin, url);
    // Without the token the browser gets no page.
    assert.doesNotMatch(await dumpDOM(bin, url.replace(/\?token=.*/, '')), /page-alpha/);
  } finally {
    await Promise.allSettled([a.close(), b.close(), waiting.close()]);
    await devnet.close();
  }
});

test('a node\'s status page in Chromium: self, peers with path and traffic, health; a real rendering', { timeout: 120_000 }, async () => {
  const bin = chromium();
  const devnet = await startDevnet();
  const key = devnet.createAuthKey({ reusable: true, ephemeral: true });
  const a = new Server({ hostname: 'node-page-a', controlURL: devnet.controlURL, authKey: key, ephemeral: true, store: new MemoryStore() });
  const b = new Server({ hostname: 'node-page-b', controlURL: devnet.controlURL, authKey: key, ephemeral: true, store: new MemoryStore() });
  try {
    await Promise.all([a.up(), b.up()]);
    b.listen('tcp', ':80').serve(http.createServer((_req, res) => res.end('b\n')));
    assert.equal(await (await a.fetch('http://node-page-b/')).text(), 'b\n');
    const lb = await a.loopback();
    const url = `http://${lb.address}/status?token=${lb.localAPICredential}`;
    const dom = await dumpDOM(bin, url);
    for (const want of ['tsnet node node-page-a', 'node-page-b', 'healthy', 'Running', a.tailscaleIPs()[0]!]) {
      assert.ok(dom.includes(want), `the page shows ${want}`);
    }
    assert.match(dom, /class="pill (ok|warn)">(direct|relay)</, 'the peer has a path');
    assert.doesNotMatch(dom, /<td class="num">0 B<\/td><td class="num">0 B<\/td>/, 'traffic shown');
    await checkScreenshot(bin, url);
    assert.doesNotMatch(await dumpDOM(bin, `http://${lb.address}/status?token=${'0'.repeat(32)}`), /node-page-b/);
  } finally {
    await Promise.allSettled([a.close(), b.close()]);
    await devnet.close();
  }
});

test('the pages escape what nodes report and show health problems', () => {
  const evil = '<img src=x onerror=alert(1)>';
  const html = devnetPage({
    controlURL: 'http://127.0.0.1:1',
    domain: 'devnet.internal',
    relayURL: null,
    stun: null,
    nodes: [
      {
        id: 1, stableId: 's', name: `${evil}.devnet.internal`, hostname: evil, os: evil, capVersion: 130, user: evil, tags: [],
        addresses: ['100.64.0.1', 'fd7a::1'], nodeKey: 'nodekey:00', machineKey: 'mkey:00', discoKey: 'discokey:00', endpoints: [evil],
        homeDERP: 900, online: false, lastSeen: null, ephemeral: false, authorized: false, keyExpiry: null, expired: false, created: '2026-01-01T00:00:00Z',
      },
    ],
    pending: [{ id: 'abc', url: `http://x/"${evil}`, hostname: evil, nodeKey: 'nodekey:00', created: '2026-01-01T00:00:00Z', approved: false, waiting: false }],
    policy: `</pre>${evil}`,
    traffic: new Map(),
    relay: null,
    now: Date.parse('2026-01-02T00:00:00Z'),
  });
  assert.doesNotMatch(html, /<img/);
  assert.match(html, /needs approval/);
  const node = nodePage({
    backendState: 'Starting',
    tailscaleIPs: ['100.64.0.1'],
    self: { ID: 1, StableID: 's', Name: 'n.devnet.internal.', Key: 'nodekey:00' } as never,
    peers: [{ publicKey: 'nodekey:01', tailscaleIPs: ['100.64.0.2'], hostName: evil }],
    drops: { badType: 3, mac1: 0 },
    skippedPeers: [{ id: 7, reason: 'expired key' }],
  });
  assert.doesNotMatch(node, /<img/);
  assert.match(node, /backend state is Starting/);
  assert.match(node, /WireGuard dropped 3 packets \(badType: 3\)/);
  assert.match(node, /peer 7 left out of the data plane: expired key/);
});
