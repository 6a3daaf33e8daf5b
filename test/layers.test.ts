// lib/'s layers (docs/architecture.md): every import points down, or sideways within a layer. Bottom to top:
//   0 native.ts
//   1 wire/ (tailcfg, engine config, keys, the IP module, the filter compiler), util/
//   2 net/ (netstack, sockets), node.ts
//   3 wireguard.ts, wgconfig.ts, wg-drops.ts, magicsock/ (the data plane, DERP, netcheck, endpoints)
//   4 control/ (the control client), cert/ (ACME client, JWS, DER/X.509 for certificates)
//   5 loopback/, peerapi/, oauth-key.ts, oauth-key-error.ts, hostname.ts (what the Server uses besides the layers below)
//   6 server.ts, server/ (its options and the types it reports)
//   7 index.ts, cli.ts, cli/, identity-federation.ts (entries)
// devnet/ is the separate entry `tsnet/devnet`: it may import anything below server.ts (layers 0-5), and
// nothing in lib/ imports it except the CLI (cli.ts, cli/).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const lib = path.join(__dirname, '..', 'lib');
const DEVNET = 'devnet';
const SERVER = 6;

const FILES: Record<string, number> = {
  'native.ts': 0,
  'node-gyp-build.d.ts': 0,
  'node.ts': 2,
  'wireguard.ts': 3,
  'wgconfig.ts': 3,
  'wg-drops.ts': 3,
  'server.ts': 6,
  'oauth-key.ts': 5,
  'oauth-key-error.ts': 5,
  'hostname.ts': 5,
  'index.ts': 7,
  'cli.ts': 7,
  'identity-federation.ts': 7,
};
const DIRS: Record<string, number> = { wire: 1, util: 1, net: 2, magicsock: 3, control: 4, cert: 4, loopback: 5, peerapi: 5, server: 6, cli: 7 };

/** The layer of a file under lib/ (path relative to lib/, '/' separated), 'devnet', or undefined if unmapped. */
function layerOf(rel: string): number | typeof DEVNET | undefined {
  const [head, ...rest] = rel.split('/');
  if (rest.length === 0) return FILES[head!];
  if (head === DEVNET) return DEVNET;
  return DIRS[head!];
}

/** Relative import specifiers of a TypeScript source (static, dynamic, require and re-exports). */
function importsOf(source: string): string[] {
  return ts
    .preProcessFile(source, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((n) => n.startsWith('.'));
}

function libFiles(): string[] {
  return (fs.readdirSync(lib, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.split(path.sep).join('/'))
    .sort();
}

/** The lib/-relative file an import specifier of `from` names (".js" → ".ts"). */
function resolve(from: string, spec: string): string {
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  return target.replace(/\.js$/, '.ts');
}

/** Every import that breaks the layering, as "from -> to (why)". */
function violations(sources: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [from, src] of sources) {
    const lf = layerOf(from);
    if (lf === undefined) {
      out.push(`${from}: not in the layer map (add it to test/layers.test.ts and docs/architecture.md)`);
      continue;
    }
    for (const spec of importsOf(src)) {
      const to = resolve(from, spec);
      if (to.startsWith('../')) {
        out.push(`${from} -> ${spec}: outside lib/`);
        continue;
      }
      const lt = layerOf(to);
      if (lt === undefined) {
        out.push(`${from} -> ${to}: not in the layer map`);
      } else if (lt === DEVNET) {
        if (lf !== DEVNET && from !== 'cli.ts' && !from.startsWith('cli/')) out.push(`${from} -> ${to}: only cli.ts may import the devnet (tsnet/devnet is its own entry)`);
      } else if (lf === DEVNET) {
        if (lt >= SERVER) out.push(`${from} -> ${to}: the devnet may only use layers below server.ts (${lt})`);
      } else if (lt > lf) {
        out.push(`${from} (layer ${lf}) -> ${to} (layer ${lt}): imports a layer above it`);
      }
    }
  }
  return out;
}

function readAll(): Map<string, string> {
  return new Map(libFiles().map((f) => [f, fs.readFileSync(path.join(lib, f), 'utf8')]));
}

test('no file in lib/ imports from a layer above it', () => {
  const sources = readAll();
  assert.ok(sources.size > 50, `read lib/ (${sources.size} files)`);
  assert.deepEqual(violations(sources), []);
});

test('the layer check catches an upward import, a devnet import and an unmapped file', () => {
  const fake = new Map([
    ['magicsock/data-plane.ts', "import type { EngineConfig } from '../control/client.js';"],
    ['loopback/index.ts', "import type { Server } from '../server.js';\nconst d = import('../devnet/index.js');"],
    ['wire/ip.ts', "export * from './keys.js';"],
    ['devnet/server.ts', "import { Server } from '../server.js';"],
    ['stray.ts', ''],
  ]);
  assert.deepEqual(violations(fake), [
    'magicsock/data-plane.ts (layer 3) -> control/client.ts (layer 4): imports a layer above it',
    'loopback/index.ts (layer 5) -> server.ts (layer 6): imports a layer above it',
    'loopback/index.ts -> devnet/index.ts: only cli.ts may import the devnet (tsnet/devnet is its own entry)',
    'devnet/server.ts -> server.ts: the devnet may only use layers below server.ts (6)',
    'stray.ts: not in the layer map (add it to test/layers.test.ts and docs/architecture.md)',
  ]);
});

test('the main entry reaches no devnet module through its imports', () => {
  const sources = readAll();
  const seen = new Set<string>();
  const visit = (f: string): void => {
    if (seen.has(f)) return;
    seen.add(f);
    const src = sources.get(f);
    assert.ok(src !== undefined, `${f} exists`);
    for (const spec of importsOf(src)) visit(resolve(f, spec));
  };
  visit('index.ts');
  assert.ok(seen.has('server.ts') && seen.has('wireguard.ts'), 'the walk follows imports');
  assert.deepEqual([...seen].filter((f) => f.startsWith(`${DEVNET}/`)), []);
});
