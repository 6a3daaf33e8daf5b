// A DERP map that control sends again unchanged (testcontrol resends it with every netmap) must not restart
// netcheck: each round publishes endpoints, which made control send the next netmap, a loop of map updates
// every few milliseconds that took most of the node's main thread (docs/performance.md, "The interop tier's
// gap"). A real data plane on loopback; Netcheck#runNow counted.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DataPlane } from '../lib/magicsock/data-plane.js';
import { Netcheck } from '../lib/magicsock/netcheck.js';
import { engineConfigFromNetmap } from '../lib/wire/engine-config.js';
import type { NetworkMap } from '../lib/wire/netmap.js';
import type { DERPMap, Node } from '../lib/wire/tailcfg.js';
import { silentLogger } from '../lib/util/log.js';

/** A fresh DERP map object each call: one region on loopback whose STUN port nothing answers. */
const derpMap = (code: string): DERPMap => ({
  Regions: { 900: { RegionID: 900, RegionCode: code, Nodes: [{ Name: '900a', RegionID: 900, HostName: '127.0.0.1', IPv4: '127.0.0.1', STUNPort: 9, DERPPort: 9 }] } },
});
const netmap = (dm: DERPMap): NetworkMap =>
  ({
    self: { ID: 1, Name: 'self.example.ts.net.', Addresses: ['100.64.0.1/32'], AllowedIPs: ['100.64.0.1/32'], CapMap: {} } as unknown as Node,
    peers: [],
    derpMap: dm,
    packetFilter: [],
    packetFilterKnown: false,
    userProfiles: new Map(),
    displayMessages: new Map(),
    health: [],
    dns: null,
    domain: 'example.ts.net',
    magicDNSSuffix: 'example.ts.net',
  }) as unknown as NetworkMap;

test('an unchanged DERP map sent again does not restart netcheck; a changed one does', (t) => {
  let runs = 0;
  const runNow = Netcheck.prototype.runNow;
  t.mock.method(Netcheck.prototype, 'runNow', function (this: Netcheck) {
    runs++;
    return runNow.call(this);
  });
  const first = netmap(derpMap('loc'));
  const plane = new DataPlane(engineConfigFromNetmap(first), {
    nodePrivate: randomBytes(32),
    discoPrivate: randomBytes(32),
    log: silentLogger,
    onEndpoints: () => {},
    onNetInfo: () => {},
  });
  try {
    plane.apply(engineConfigFromNetmap(first), first);
    assert.equal(runs, 1, 'the first DERP map starts netcheck');
    for (let i = 0; i < 5; i++) {
      const again = netmap(derpMap('loc')); // equal content, new objects
      plane.apply(engineConfigFromNetmap(again), again);
    }
    assert.equal(runs, 1, 'the same DERP map again (new objects) started no netcheck round');
    const changed = netmap(derpMap('other'));
    plane.apply(engineConfigFromNetmap(changed), changed);
    assert.equal(runs, 2, 'a changed DERP map runs netcheck again');
  } finally {
    plane.close();
  }
});
