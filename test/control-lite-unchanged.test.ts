// An idle node's magicsock reports the same endpoints and NetInfo after every netcheck: the control client
// pushes a lite update only when they changed (lib/control/unchanged.ts; docs/performance.md, "An idle node
// under 1 MiB").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { ControlClient } from '../lib/control/client.js';
import { MemoryStore } from '../lib/control/store.js';
import { nodePublicToText } from '../lib/wire/keys.js';
import type { MapRequest } from '../lib/wire/tailcfg.js';
import { sameEndpoints, sameNetInfo } from '../lib/control/unchanged.js';
import { FakeControl } from './fixtures/control/fake-control.js';

test('sameEndpoints and sameNetInfo', () => {
  assert.ok(sameEndpoints([], []));
  assert.ok(sameEndpoints([{ addr: '127.0.0.1:1', type: 1 }], [{ addr: '127.0.0.1:1', type: 1 }]));
  assert.ok(!sameEndpoints([{ addr: '127.0.0.1:1', type: 1 }], [{ addr: '127.0.0.1:1', type: 2 }]));
  assert.ok(!sameEndpoints([{ addr: '127.0.0.1:1', type: 1 }], [{ addr: '127.0.0.1:2', type: 1 }]));
  assert.ok(!sameEndpoints([{ addr: '127.0.0.1:1', type: 1 }], []));
  assert.ok(sameNetInfo({ PreferredDERP: 1, WorkingUDP: true }, { WorkingUDP: true, PreferredDERP: 1 }));
  assert.ok(!sameNetInfo({ PreferredDERP: 1, WorkingUDP: true }, { PreferredDERP: 2, WorkingUDP: true }));
  assert.ok(!sameNetInfo({ PreferredDERP: 1 }, { PreferredDERP: 1, WorkingUDP: false }));
  assert.ok(sameNetInfo({ DERPLatency: { '1-v4': 0.01 } }, { DERPLatency: { '1-v4': 0.01 } }));
  assert.ok(!sameNetInfo({ DERPLatency: { '1-v4': 0.01 } }, { DERPLatency: { '1-v4': 0.02 } }));
  assert.ok(!sameNetInfo({ DERPLatency: { '1-v4': 0.01 } }, { DERPLatency: {} }));
  assert.ok(!sameNetInfo({ DERPLatency: { '1-v4': 0.01 } }, {}));
});

test('unchanged endpoints and NetInfo send no lite update; a change does', async () => {
  const fc = new FakeControl();
  await fc.start();
  fc.authKeys.add('tskey-auth-good');
  const c = new ControlClient({ controlURL: fc.url, store: new MemoryStore(), hostname: 'idle', authKey: 'tskey-auth-good', userLogf: () => {}, backoff: { initialMs: 20, maxMs: 200 } });
  try {
    await c.up(AbortSignal.timeout(5000));
    const key = nodePublicToText(c.nodePublic!);
    const lite: MapRequest[] = [];
    fc.events.on('mapRequest', (r: MapRequest) => { if (r.NodeKey === key && r.Stream === false) lite.push(r); });
    // Resolves with the next lite update whose endpoints are `addr`.
    const next = async (addr: string): Promise<MapRequest> => {
      for (;;) {
        const found = lite.find((r) => r.Endpoints?.[0] === addr);
        if (found) return found;
        await once(fc.events, 'mapRequest');
      }
    };
    const a = [{ addr: '127.0.0.1:41641', type: 1 }];
    c.setEndpoints(a);
    c.setNetInfo({ PreferredDERP: 1, WorkingUDP: true });
    await next('127.0.0.1:41641');
    const before = lite.length;
    // What every later netcheck of an idle node reports: the same again, in later turns.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      c.setEndpoints(a.map((e) => ({ ...e })));
      c.setNetInfo({ WorkingUDP: true, PreferredDERP: 1 });
      await new Promise((r) => setImmediate(r));
    }
    // A change still goes out, and nothing was sent before it: requests on the connection arrive in order.
    c.setEndpoints([{ addr: '127.0.0.1:41642', type: 1 }]);
    const changed = await next('127.0.0.1:41642');
    assert.equal(lite.length, before + 1, 'one lite update: the change');
    assert.equal(changed.Hostinfo?.NetInfo?.PreferredDERP, 1);
    c.setNetInfo({ PreferredDERP: 2, WorkingUDP: true });
    for (;;) {
      if (lite.some((r) => r.Hostinfo?.NetInfo?.PreferredDERP === 2)) break;
      await once(fc.events, 'mapRequest');
    }
    assert.equal(lite.length, before + 2);
  } finally {
    await c.close();
    await fc.close();
  }
});
