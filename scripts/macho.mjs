// Makes the external symbols that Mach-O objects define private to the image they are linked into: sets
// N_PEXT on every defined external symbol not in `keep`, in a Mach-O object or in every Mach-O member of an
// ar archive, in place (one bit per symbol, so offsets, sizes and the archive's index are unchanged).
// zig's Mach-O linker takes no -exported_symbols_list (it drops it silently) but leaves private externals
// out of the export trie, so the darwin prebuilds pass their static libraries (libuv, libsodium, libb2,
// lwIP, libc++, libc++abi) through this to export only the Node-API entry points, as the ELF builds' version
// script does (docs/build.md, "Prebuilt binaries").
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const MH_MAGIC_64 = 0xfeedfacf;
const LC_SYMTAB = 0x2;
const N_STAB = 0xe0, N_PEXT = 0x10, N_TYPE = 0x0e, N_EXT = 0x01, N_SECT = 0x0e;

// Patches one 64-bit little-endian Mach-O object occupying buf[start, start+len); returns how many
// symbols it made private.
function patchObject(buf, start, len, keep) {
  if (len < 32 || buf.readUInt32LE(start) !== MH_MAGIC_64) return 0;
  const ncmds = buf.readUInt32LE(start + 16);
  let off = start + 32, n = 0;
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(off), size = buf.readUInt32LE(off + 4);
    if (size < 8 || off + size > start + len) throw new Error('macho-private: a load command runs past its object');
    if (cmd === LC_SYMTAB) {
      const symoff = buf.readUInt32LE(off + 8), nsyms = buf.readUInt32LE(off + 12);
      const stroff = buf.readUInt32LE(off + 16), strsize = buf.readUInt32LE(off + 20);
      if (symoff + nsyms * 16 > len || stroff + strsize > len) throw new Error('macho-private: symbol table out of range');
      for (let s = 0; s < nsyms; s++) {
        const e = start + symoff + s * 16;
        const type = buf[e + 4];
        if (type & N_STAB || !(type & N_EXT) || (type & N_TYPE) !== N_SECT || type & N_PEXT) continue;
        const strx = buf.readUInt32LE(e);
        const nameEnd = buf.indexOf(0, start + stroff + strx);
        const name = buf.toString('latin1', start + stroff + strx, nameEnd);
        if (keep.has(name)) continue;
        buf[e + 4] = type | N_PEXT;
        n++;
      }
    }
    off += size;
  }
  return n;
}

// An ar archive (GNU or BSD long names) or a lone object; returns how many symbols became private.
export function privatize(file, keep) {
  const buf = readFileSync(file);
  let n = 0;
  if (buf.toString('latin1', 0, 8) === '!<arch>\n') {
    let off = 8;
    while (off + 60 <= buf.length) {
      const name = buf.toString('latin1', off, off + 16).trim();
      const size = Number(buf.toString('latin1', off + 48, off + 58).trim());
      if (!Number.isInteger(size) || buf.toString('latin1', off + 58, off + 60) !== '`\n') throw new Error(`macho-private: ${file}: bad archive member header`);
      let data = off + 60, len = size;
      const bsd = /^#1\/(\d+)$/.exec(name);
      if (bsd) { data += Number(bsd[1]); len -= Number(bsd[1]); }
      n += patchObject(buf, data, len, keep);
      off += 60 + size + (size & 1);
    }
  } else {
    n = patchObject(buf, 0, buf.length, keep);
  }
  writeFileSync(file, buf);
  return n;
}

// Checks a linked image's ad-hoc code signature (LC_CODE_SIGNATURE): macOS on arm64 loads no unsigned
// code, and one page whose hash does not match kills the process that maps it. Returns a summary, or
// throws when the signature is missing or any SHA-256 page hash differs from the file's bytes.
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0, CSMAGIC_CODEDIRECTORY = 0xfade0c02, CS_HASHTYPE_SHA256 = 2;
export function verifySignature(file) {
  const buf = readFileSync(file);
  if (buf.readUInt32LE(0) !== MH_MAGIC_64) throw new Error(`${file}: not a 64-bit Mach-O file`);
  const ncmds = buf.readUInt32LE(16);
  let off = 32, sig;
  for (let i = 0; i < ncmds; i++) {
    if (buf.readUInt32LE(off) === LC_CODE_SIGNATURE) sig = { off: buf.readUInt32LE(off + 8), size: buf.readUInt32LE(off + 12) };
    off += buf.readUInt32LE(off + 4);
  }
  if (!sig) throw new Error(`${file}: no LC_CODE_SIGNATURE`);
  if (buf.readUInt32BE(sig.off) !== CSMAGIC_EMBEDDED_SIGNATURE) throw new Error(`${file}: not an embedded signature`);
  const count = buf.readUInt32BE(sig.off + 8);
  for (let i = 0; i < count; i++) {
    const cd = sig.off + buf.readUInt32BE(sig.off + 12 + i * 8 + 4);
    if (buf.readUInt32BE(cd) !== CSMAGIC_CODEDIRECTORY) continue;
    const hashOffset = buf.readUInt32BE(cd + 16), identOffset = buf.readUInt32BE(cd + 20);
    const nCodeSlots = buf.readUInt32BE(cd + 28), codeLimit = buf.readUInt32BE(cd + 32);
    const hashSize = buf[cd + 36], hashType = buf[cd + 37], pageSize = 2 ** buf[cd + 39];
    if (hashType !== CS_HASHTYPE_SHA256 || hashSize !== 32) throw new Error(`${file}: hash type ${hashType}, want SHA-256`);
    if (codeLimit !== sig.off || nCodeSlots !== Math.ceil(codeLimit / pageSize)) throw new Error(`${file}: the signature covers ${codeLimit} bytes in ${nCodeSlots} pages, the file's code is ${sig.off}`);
    for (let p = 0; p < nCodeSlots; p++) {
      const want = buf.subarray(cd + hashOffset + p * 32, cd + hashOffset + (p + 1) * 32);
      const got = createHash('sha256').update(buf.subarray(p * pageSize, Math.min((p + 1) * pageSize, codeLimit))).digest();
      if (!got.equals(want)) throw new Error(`${file}: page ${p} does not match its signed hash`);
    }
    const ident = buf.toString('latin1', cd + identOffset, buf.indexOf(0, cd + identOffset));
    return `ad-hoc signature "${ident}": ${nCodeSlots} pages of ${pageSize} bytes, SHA-256, all match`;
  }
  throw new Error(`${file}: the signature has no code directory`);
}

// node scripts/macho.mjs verify-signature FILE (scripts/prebuild-all.sh's Mach-O checks).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] !== 'verify-signature' || !process.argv[3]) throw new Error('usage: node scripts/macho.mjs verify-signature FILE');
  console.log(verifySignature(process.argv[3]));
}
