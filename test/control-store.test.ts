import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, MemoryStore, type Store } from '../lib/control/store.js';
import { loadNodeProfile, loadOrCreateMachineKey, newNodeProfile, saveNodeProfile, STATE_MACHINE_KEY, wipeNodeProfile } from '../lib/control/identity.js';
import { privateToText } from '../lib/wire/keys.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tsnet-control-store-'));
}

test('FileStore: creates a 0700 directory and a 0600 file; values survive a new instance', async () => {
  const base = tmp();
  try {
    const dir = join(base, 'state', 'nested');
    const s = new FileStore(dir);
    assert.equal(await s.get('missing'), undefined);
    await s.set('a', Buffer.from('hello'));
    await s.set('bin', Buffer.from([0, 255, 1, 2]));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(s.file).mode & 0o777, 0o600);
    const s2 = new FileStore(dir);
    assert.equal((await s2.get('a'))?.toString(), 'hello');
    assert.deepEqual(await s2.get('bin'), Buffer.from([0, 255, 1, 2]));
    // The file is a JSON map of base64 values (tailscaled.state style).
    assert.deepEqual(JSON.parse(readFileSync(s.file, 'utf8')), { a: 'aGVsbG8=', bin: 'AP8BAg==' });
    await s2.delete('a');
    await s2.delete('never-there');
    s.reload();
    assert.equal(await s.get('a'), undefined);
    assert.deepEqual(readdirSync(dir), ['tailscaled.state'], 'no temp files left behind');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('FileStore: an existing 0755 state directory and 0644 state file of ours are made private', async () => {
  const { mkdirSync, chownSync } = await import('node:fs');
  const base = tmp();
  try {
    const dir = join(base, 'state');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755); // whatever the umask
    writeFileSync(join(dir, 'tailscaled.state'), JSON.stringify({ a: Buffer.from('kept').toString('base64') }), { mode: 0o644 });
    chmodSync(join(dir, 'tailscaled.state'), 0o644);
    const s = new FileStore(dir);
    assert.equal((await s.get('a'))?.toString(), 'kept');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(s.file).mode & 0o777, 0o600);
    // Owner bits are kept as they are; only group and other lose theirs.
    chmodSync(dir, 0o750);
    await new FileStore(dir).get('a');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    if (process.getuid?.() === 0) {
      // Another user's open directory is refused, not changed.
      chownSync(dir, 65534, 65534);
      chmodSync(dir, 0o755);
      await assert.rejects(new FileStore(dir).get('a'), { code: 'ERR_STORE', message: /belongs to another user/ });
      assert.equal(statSync(dir).mode & 0o777, 0o755);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('FileStore: concurrent writes are serialized and none is lost', async () => {
  const base = tmp();
  try {
    const s = new FileStore(base);
    await Promise.all(Array.from({ length: 25 }, (_, i) => s.set(`k${i}`, Buffer.from(String(i)))));
    const again = new FileStore(base);
    for (let i = 0; i < 25; i++) assert.equal((await again.get(`k${i}`))?.toString(), String(i));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('FileStore: a failed write leaves the previous file intact (atomic replace)', { skip: process.getuid?.() === 0 ? 'root ignores directory permissions' : false }, async () => {
  const base = tmp();
  try {
    const s = new FileStore(base);
    await s.set('a', Buffer.from('1'));
    chmodSync(base, 0o500);
    await assert.rejects(s.set('a', Buffer.from('2')), { code: 'ERR_STORE' });
    chmodSync(base, 0o700);
    assert.equal((await new FileStore(base).get('a'))?.toString(), '1');
    assert.equal((await s.get('a'))?.toString(), '1', 'memory copy not updated on failure');
  } finally {
    chmodSync(base, 0o700);
    rmSync(base, { recursive: true, force: true });
  }
});

test('FileStore: a failed replace leaves no temp file and keeps the previous value (any user)', async () => {
  const { mkdirSync } = await import('node:fs');
  const base = tmp();
  try {
    const s = new FileStore(base);
    await s.set('a', Buffer.from('1'));
    // Make the rename fail: swap the state file for a non-empty directory.
    rmSync(s.file);
    mkdirSync(s.file);
    writeFileSync(join(s.file, 'x'), 'x');
    await assert.rejects(s.set('a', Buffer.from('2')), { code: 'ERR_STORE' });
    assert.equal((await s.get('a'))?.toString(), '1', 'in-memory value unchanged');
    assert.deepEqual(readdirSync(base), ['tailscaled.state'], 'temp file removed');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('FileStore: a crash before the rename (stale temp file) leaves the old state readable', async () => {
  const base = tmp();
  try {
    const s = new FileStore(base);
    await s.set('a', Buffer.from('old'));
    writeFileSync(join(base, '.tailscaled.state.deadbeef0000.tmp'), '{"a":"bmV3', { mode: 0o600 });
    const again = new FileStore(base);
    assert.equal((await again.get('a'))?.toString(), 'old');
    await again.set('b', Buffer.from('x'));
    assert.equal((await new FileStore(base).get('b'))?.toString(), 'x');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('FileStore: the temp file + rename leaves either the old or the new content', async () => {
  const base = tmp();
  try {
    const s = new FileStore(base);
    await s.set('a', Buffer.from('old'));
    // A reader racing with writes never sees a partial file.
    const writes = Array.from({ length: 20 }, (_, i) => s.set('a', Buffer.from('new'.repeat(i * 1000 + 1))));
    for (let i = 0; i < 50; i++) {
      const text = readFileSync(s.file, 'utf8');
      assert.doesNotThrow(() => JSON.parse(text));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('FileStore: corrupt files and non-directories give ERR_STORE', async () => {
  const base = tmp();
  try {
    writeFileSync(join(base, 'tailscaled.state'), '{not json');
    await assert.rejects(new FileStore(base).get('x'), { code: 'ERR_STORE' });
    writeFileSync(join(base, 'tailscaled.state'), '{"a": 5}');
    await assert.rejects(new FileStore(base).get('x'), { code: 'ERR_STORE' });
    writeFileSync(join(base, 'file'), 'x');
    await assert.rejects(new FileStore(join(base, 'file')).get('x'), { code: 'ERR_STORE' });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('MemoryStore: get/set/delete with copies', async () => {
  const m = new MemoryStore();
  const v = Buffer.from('abc');
  await m.set('k', v);
  v[0] = 0x7a;
  assert.equal((await m.get('k'))?.toString(), 'abc');
  await m.delete('k');
  assert.equal(await m.get('k'), undefined);
});

test('stores zero the in-memory copy of a value that is replaced or deleted (it may hold a key)', async () => {
  const base = tmp();
  try {
    const mem = new MemoryStore();
    const file = new FileStore(base);
    const held = (st: Store, k: string): Buffer => {
      const inner = st as unknown as { map?: Map<string, Buffer>; data?: Map<string, Buffer> | null };
      return (inner.map ?? inner.data)!.get(k)!;
    };
    for (const st of [mem, file]) {
      await st.set('k', Buffer.from('secret-1'));
      const first = held(st, 'k');
      await st.set('k', Buffer.from('secret-2'));
      assert.ok(first.every((b) => b === 0), 'replaced value zeroed');
      assert.equal((await st.get('k'))?.toString(), 'secret-2');
      const second = held(st, 'k');
      await st.delete('k');
      assert.ok(second.every((b) => b === 0), 'deleted value zeroed');
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('identity: machine key and node profile persist across restarts', async () => {
  const base = tmp();
  try {
    const s1 = new FileStore(base);
    const mk = await loadOrCreateMachineKey(s1);
    assert.equal((await s1.get(STATE_MACHINE_KEY))?.toString(), privateToText(mk));
    const p = { ...newNodeProfile(), registered: true, nodeID: 7 };
    await saveNodeProfile(s1, p);
    const s2 = new FileStore(base);
    assert.deepEqual(await loadOrCreateMachineKey(s2), mk);
    const p2 = await loadNodeProfile(s2);
    assert.deepEqual(p2?.nodePrivate, p.nodePrivate);
    assert.equal(p2?.registered, true);
    assert.equal(p2?.nodeID, 7);
    assert.equal(p2?.backendLogID, p.backendLogID);
    // Keys are Buffers in memory and text in the store, in the format earlier versions wrote.
    assert.deepEqual(p2?.nlPrivatePkcs8, p.nlPrivatePkcs8);
    const stored = JSON.parse((await s2.get('_tsnet-node'))!.toString()) as Record<string, unknown>;
    assert.equal(stored['nodePrivate'], privateToText(p.nodePrivate));
    assert.equal(stored['nlPrivatePkcs8Hex'], p.nlPrivatePkcs8.toString('hex'));
    wipeNodeProfile(p2);
    assert.ok(p2!.nodePrivate.every((b) => b === 0) && p2!.nlPrivatePkcs8.every((b) => b === 0));
    await s2.set('_tsnet-node', Buffer.from('{"nodePrivate":"privkey:zz"}'));
    await assert.rejects(loadNodeProfile(s2), { code: 'ERR_KEY_FORMAT' });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
