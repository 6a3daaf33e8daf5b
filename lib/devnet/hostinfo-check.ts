/**
 * Type checks for the Hostinfo fields the server reads (Hostname, OS,
 * RequestTags, NetInfo.PreferredDERP, Services). Other fields pass through
 * untouched: they are only relayed to peers.
 */
import type { Hostinfo } from '../wire/tailcfg.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Returns an error message, or null when the Hostinfo is usable. */
export function checkHostinfo(v: unknown, where: string): string | null {
  if (!isObject(v)) return `${where} must be an object`;
  for (const k of ['Hostname', 'OS', 'OSVersion', 'IPNVersion', 'BackendLogID'] as const) {
    if (v[k] !== undefined && v[k] !== null && typeof v[k] !== 'string') return `${where}.${k} must be a string`;
  }
  if (typeof v['Hostname'] === 'string' && v['Hostname'].length > 256) return `${where}.Hostname is too long`;
  const tags = v['RequestTags'];
  if (tags !== undefined && tags !== null && (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string'))) {
    return `${where}.RequestTags must be a list of strings`;
  }
  const ni = v['NetInfo'];
  if (ni !== undefined && ni !== null) {
    if (!isObject(ni)) return `${where}.NetInfo must be an object`;
    const d = ni['PreferredDERP'];
    if (d !== undefined && d !== null && (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > Number.MAX_SAFE_INTEGER)) {
      return `${where}.NetInfo.PreferredDERP must be a region ID`;
    }
  }
  const svcs = v['Services'];
  if (svcs !== undefined && svcs !== null && (!Array.isArray(svcs) || !svcs.every(isObject))) return `${where}.Services must be a list of objects`;
  return null;
}

/** Hostinfo as stored: null-valued reader fields dropped so later code sees strings or nothing. */
export function normalizeHostinfo(v: Record<string, unknown>): Hostinfo {
  const out: Record<string, unknown> = { ...v };
  for (const k of ['Hostname', 'OS', 'RequestTags', 'NetInfo', 'Services']) if (out[k] === null) delete out[k];
  return out as Hostinfo;
}
