// The design lives in the repo (docs/): comments and docs cite only files that exist here, numbered sections
// that exist, and nothing outside the project. Pure file reads; no network, no build needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const TREES = ['lib', 'native', 'test', 'bench', 'scripts', 'docs', 'examples'];
const TOP_FILES = ['README.md', 'CMakeLists.txt', 'binding.gyp'];
// Third-party code, build output and fuzz corpora are not ours to cite from.
const SKIP_DIRS = new Set(['node_modules', 'deps', 'dist', 'prebuilds', 'corpus', '.fuzz']);
const TEXT = /\.(?:ts|mts|cts|js|mjs|cjs|c|h|cc|md|sh|gyp|txt|json)$/;

// Built from pieces so that this file does not match itself.
const FORBIDDEN: Array<[RegExp, string]> = [
  [new RegExp('protocols' + '\\.md'), 'a protocol document outside the repo (docs/protocol/ has ours)'],
  [new RegExp('ARCHI' + 'TECTURE(?:\\s*§|\\.md)'), 'an architecture document outside the repo (docs/architecture.md)'],
  [new RegExp('/work' + '/|shared' + '/vectors'), 'a path on the development machine, outside the repo'],
];

// Paths that look like ours but name something else, with why.
const NOT_OURS: Array<[RegExp, string]> = [
  [/^test\/default\/box2?\.c$/, "libsodium's own test suite"],
  [/^bench\/results(?:\/|$)/, 'written by the bench scripts at run time (git-ignored)'],
];

function listFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('build')) walk(r);
      } else if (TEXT.test(e.name)) out.push(r);
    }
  };
  for (const t of TREES) if (fs.existsSync(path.join(ROOT, t))) walk(t);
  for (const f of TOP_FILES) if (fs.existsSync(path.join(ROOT, f))) out.push(f);
  return out;
}

const FILES = listFiles();
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

export interface Finding {
  where: string;
  what: string;
}

// A repo path: starts at a word boundary (not inside a URL, an import "../lib/…" or another path) with one of
// the top-level trees; a trailing full stop, comma or dash belongs to the sentence, not the path.
const PATH_RE = /(?<![\w./@-])((?:lib|native|test|bench|scripts|docs|examples)(?:\/[\w.*{][\w.*{},-]*)+)/g;

function globToRegExp(seg: string): RegExp {
  const body = seg
    .replace(/[.+^$()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\{([^}]*)\}/g, (_m, alts: string) => `(?:${alts.split(',').join('|')})`);
  return new RegExp(`^${body}$`);
}

/** True if the path (maybe with * or {a,b} in its segments) names something in `root`. */
export function pathExists(root: string, p: string): boolean {
  if (!/[*{]/.test(p)) {
    if (fs.existsSync(path.join(root, p))) return true;
    // A module named without its extension (native/core/net/udp), or a compiled name of a TypeScript file.
    if (['.c', '.h', '.ts'].some((ext) => fs.existsSync(path.join(root, p + ext)))) return true;
    return /\.m?js$/.test(p) && fs.existsSync(path.join(root, p.replace(/\.m?js$/, '.ts')));
  }
  let dirs = [''];
  for (const seg of p.split('/')) {
    const re = globToRegExp(seg);
    const next: string[] = [];
    for (const d of dirs) {
      let names: string[];
      try {
        names = fs.readdirSync(path.join(root, d));
      } catch {
        continue;
      }
      for (const n of names) if (re.test(n)) next.push(d ? `${d}/${n}` : n);
    }
    dirs = next;
  }
  return dirs.length > 0;
}

/** Repo paths in `text` that do not exist under `root`. */
export function danglingPaths(root: string, file: string, text: string): Finding[] {
  const out: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(PATH_RE)) {
      const p = m[1]!.replace(/[.,-]+$/, '');
      if (NOT_OURS.some(([re]) => re.test(p))) continue;
      if (!pathExists(root, p)) out.push({ where: `${file}:${i + 1}`, what: p });
    }
  });
  return out;
}

const headingsCache = new Map<string, string[]>();
function headings(root: string, doc: string): string[] | null {
  const key = `${root}\0${doc}`;
  if (!headingsCache.has(key)) {
    const file = path.join(root, doc);
    if (!fs.existsSync(file)) return null;
    headingsCache.set(key, fs.readFileSync(file, 'utf8').split('\n'));
  }
  return headingsCache.get(key)!;
}

function hasNumberedSection(lines: string[], n: string): boolean {
  return lines.some((l) => new RegExp(`^#{2,4} ${n.replace(/\./g, '\\.')}\\.? `).test(l));
}

/**
 * Section citations: `docs/<file>.md §N` must name a heading "## N." of that file; `docs/<file>.md, "Title"` a heading
 * that starts with Title (or a bold lead-in **Title); a bare § must follow an RFC number or a docs/ file in
 * the same paragraph, except in docs/, where it means a section of the same file.
 */
export function badSections(root: string, file: string, text: string): Finding[] {
  const out: Finding[] = [];
  let carried: string | null = null; // the last citation of the paragraph so far
  text.split('\n').forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    for (const m of line.matchAll(/(docs\/[\w/-]+\.md),? \(?"([^"]+)"/g)) {
      const lines = headings(root, m[1]!);
      if (!lines) continue; // reported as a dangling path
      const title = m[2]!.replace(/`/g, '');
      const plain = lines.map((l) => l.replace(/`/g, ''));
      if (!plain.some((l) => /^#+ /.test(l) && l.replace(/^#+ /, '').startsWith(title)) && !plain.some((l) => l.includes(`**${title}`))) {
        out.push({ where, what: `${m[1]}, "${title}": no such heading` });
      }
    }
    // Each § is judged by the nearest citation before it on the line: an RFC, a docs/ file, or none.
    const tokens = [...line.matchAll(/RFC\s*\d+|docs\/[\w/-]+\.md|§\s*(\d+(?:\.\d+)*)/g)];
    let ctx = file.startsWith('docs/') ? null : carried; // in docs/, a § that starts no citation is the file's own
    for (const t of tokens) {
      if (!t[0].startsWith('§')) {
        ctx = t[0];
        continue;
      }
      const n = t[1]!;
      if (ctx?.startsWith('RFC')) continue;
      const doc = ctx ?? (file.startsWith('docs/') ? file : null);
      if (!doc) {
        out.push({ where, what: `§${n} without a document (cite docs/<file>.md §N, or RFC N §M)` });
        continue;
      }
      const lines = headings(root, doc);
      if (lines && !hasNumberedSection(lines, n)) out.push({ where, what: `${doc} §${n}: no such numbered section` });
    }
    // The citation carries on through the paragraph (a wrapped comment, a list), up to a blank line.
    const last = tokens.filter((t) => !t[0].startsWith('§')).pop();
    carried = last ? last[0] : /^[\s*/#>-]*$/.test(line) ? null : ctx;
  });
  return out;
}

function report(findings: Finding[]): string {
  return `\n${findings.map((f) => `  ${f.where}: ${f.what}`).join('\n')}\n`;
}

test('no file cites documents or paths outside the repo', () => {
  const found: Finding[] = [];
  for (const f of FILES) {
    read(f)
      .split('\n')
      .forEach((line, i) => {
        for (const [re, why] of FORBIDDEN) if (re.test(line)) found.push({ where: `${f}:${i + 1}`, what: why });
      });
  }
  assert.deepEqual(found, [], report(found));
});

test('every repo path mentioned in code and docs exists', () => {
  const found: Finding[] = [];
  let seen = 0;
  for (const f of FILES) {
    if (f.endsWith('.json')) continue; // fixtures: data, not prose
    const text = read(f);
    seen += [...text.matchAll(PATH_RE)].length;
    found.push(...danglingPaths(ROOT, f, text));
  }
  assert.ok(seen > 200, `the scan saw only ${seen} path mentions: is it still looking at the tree?`);
  assert.deepEqual(found, [], report(found));
});

test('every cited section exists', () => {
  const found: Finding[] = [];
  for (const f of FILES) if (!f.endsWith('.json')) found.push(...badSections(ROOT, f, read(f)));
  assert.deepEqual(found, [], report(found));
});

test('the checks catch what they are for', () => {
  const [lib, docs, native] = ['lib', 'docs', 'native']; // so that the samples below are not scanned themselves
  const S = '\u00a7'; // written so, this file's own sample citations are not scanned as citations
  const missing = `${lib}/no-such-module.ts`;
  assert.deepEqual(
    danglingPaths(ROOT, 'x.ts', `// see ${missing}. And ${lib}/server.ts, docs/api.md, native/core/wg/wg_*.c, native/core/net/udp.`),
    [{ where: 'x.ts:1', what: missing }],
  );
  assert.equal(pathExists(ROOT, 'native/core/{wg,derp}/README.md'), true);
  assert.equal(pathExists(ROOT, `${native}/core/nothing_*.c`), false);
  const doc = `${docs}/protocol/control.md`;
  assert.deepEqual(badSections(ROOT, 'x.c', `/* ${doc} ${S}8, RFC 5389 ${S}15.5 */`), []);
  assert.equal(badSections(ROOT, 'x.c', `/* ${doc} ${S}99 */`).length, 1);
  assert.equal(badSections(ROOT, 'x.c', `/* as in ${S}2.11 */`).length, 1);
  assert.deepEqual(badSections(ROOT, 'x.c', ` * RFC 8878\n * ${S}3.1.1, and\n * ${doc}:\n *   ${S}8 register`), []);
  assert.equal(badSections(ROOT, 'x.c', ` * ${doc}\n *\n * ${S}8`).length, 1);
  assert.equal(badSections(ROOT, 'x.c', `/* ${docs}/architecture.md, "No such heading" */`).length, 1);
  assert.deepEqual(badSections(ROOT, 'x.c', `/* ${docs}/architecture.md, "Handshake floods" */`), []);
  for (const [re] of FORBIDDEN) assert.equal(re.test(`see protocols${'.md'} ${S}2`), re === FORBIDDEN[0]![0]);
});
