// Where a process's resident memory is, for the memory benches (bench/scale.mjs, bench/idle-nodes.mjs).
import * as fs from 'node:fs';
import * as v8 from 'node:v8';

const KiB = (b) => Math.round(b / 1024);

// /proc/self/smaps, resident KiB per kind of mapping: the node binary, the addon, other files, malloc's
// [heap], and anonymous mappings (V8's heap pages, malloc's other arenas and large blocks, our mmap'd buffers).
export function smapsByKind() {
  const kinds = {};
  let kind = null;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const name = m[1];
      kind = !name ? 'anon' : name === '[heap]' ? 'heap' : name.startsWith('[') ? 'other' : name.endsWith('.node') ? 'addon' : name === process.execPath || /\/node$/.test(name) ? 'node' : 'files';
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r && kind) kinds[kind] = (kinds[kind] ?? 0) + Number(r[1]);
  }
  return kinds;
}

/** KiB of each V8 heap space that holds memory. */
export function v8Spaces() {
  const o = {};
  for (const s of v8.getHeapSpaceStatistics()) if (s.physical_space_size) o[s.space_name.replace('_space', '')] = KiB(s.physical_space_size);
  return o;
}
