/**
 * The node's persistent identity in a Store: machine key (Tailscale's
 * `_machinekey` state key, "privkey:<hex>"), and the node profile (node key,
 * previous node key during rotation, tailnet-lock key, log ID, login info)
 * as JSON under `_tsnet-node`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ControlError } from '../wire/errors.js';
import { generatePrivateKey, parsePrivate, privateToText } from '../wire/keys.js';
import type { Store } from './store.js';
import type { Node, UserProfile } from '../wire/tailcfg.js';

export const STATE_MACHINE_KEY = '_machinekey';
export const STATE_NODE = '_tsnet-node';

export interface NodeProfile {
  /** Current node private key, 32 bytes ("privkey:<hex>" in the store). Wiped by wipeNodeProfile. */
  nodePrivate: Buffer;
  /** Previous node private key while a rotation is being registered. */
  oldNodePrivate?: Buffer;
  /** Tailnet-lock key pair (ed25519): hex of the raw 32-byte public key, and the PKCS#8 private key. */
  nlPublicHex: string;
  nlPrivatePkcs8: Buffer;
  /** Random per-install ID sent as Hostinfo.BackendLogID. */
  backendLogID: string;
  /** True once control accepted the node key (AuthURL empty). */
  registered: boolean;
  /** Self node as last seen (ID, name, addresses, key expiry). */
  nodeID?: number;
  name?: string;
  keyExpiry?: string;
  user?: UserProfile;
  controlURL?: string;
}

/** The profile as stored: JSON with keys as text (the format of earlier versions). */
interface StoredProfile extends Omit<NodeProfile, 'nodePrivate' | 'oldNodePrivate' | 'nlPrivatePkcs8'> {
  nodePrivate: string;
  oldNodePrivate?: string;
  nlPrivatePkcs8Hex: string;
}

export async function loadOrCreateMachineKey(store: Store): Promise<Buffer> {
  const raw = await store.get(STATE_MACHINE_KEY);
  if (raw && raw.length) {
    try {
      return parsePrivate(raw.toString('utf8').trim());
    } catch (cause) {
      throw new ControlError('ERR_STORE', `stored ${STATE_MACHINE_KEY} is malformed`, { cause });
    } finally {
      raw.fill(0);
    }
  }
  const key = generatePrivateKey();
  const text = Buffer.from(privateToText(key), 'utf8');
  try {
    await store.set(STATE_MACHINE_KEY, text);
  } finally {
    text.fill(0);
  }
  return key;
}

export function newNodeProfile(): NodeProfile {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    nodePrivate: generatePrivateKey(),
    nlPublicHex: spki.subarray(spki.length - 32).toString('hex'),
    nlPrivatePkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }),
    backendLogID: randomBytes(32).toString('hex'),
    registered: false,
  };
}

export async function loadNodeProfile(store: Store): Promise<NodeProfile | null> {
  const raw = await store.get(STATE_NODE);
  if (!raw || raw.length === 0) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new ControlError('ERR_STORE', `stored ${STATE_NODE} is not valid JSON`, { cause });
  } finally {
    raw.fill(0);
  }
  const p = v as Partial<StoredProfile> | null;
  if (!p || typeof p !== 'object' || typeof p.nodePrivate !== 'string') {
    throw new ControlError('ERR_STORE', `stored ${STATE_NODE} lacks a node key`);
  }
  const nodePrivate = parsePrivate(p.nodePrivate);
  let oldNodePrivate: Buffer | undefined;
  try {
    oldNodePrivate = typeof p.oldNodePrivate === 'string' ? parsePrivate(p.oldNodePrivate) : undefined;
  } catch {
    oldNodePrivate = undefined; // a malformed previous key only loses the rotation hint
  }
  const fresh = newNodeProfile();
  const hasNl = typeof p.nlPublicHex === 'string' && typeof p.nlPrivatePkcs8Hex === 'string';
  const { nodePrivate: _n, oldNodePrivate: _o, nlPrivatePkcs8Hex: nlHex, ...rest } = p;
  const out: NodeProfile = {
    ...rest,
    nodePrivate,
    nlPublicHex: hasNl ? p.nlPublicHex! : fresh.nlPublicHex,
    nlPrivatePkcs8: hasNl ? Buffer.from(nlHex!, 'hex') : fresh.nlPrivatePkcs8,
    backendLogID: typeof p.backendLogID === 'string' ? p.backendLogID : fresh.backendLogID,
    registered: p.registered === true,
  };
  if (oldNodePrivate) out.oldNodePrivate = oldNodePrivate;
  wipeNodeProfile(fresh);
  return out;
}

export async function saveNodeProfile(store: Store, p: NodeProfile): Promise<void> {
  const { nodePrivate, oldNodePrivate, nlPrivatePkcs8, ...rest } = p;
  const stored: StoredProfile = {
    ...rest,
    nodePrivate: privateToText(nodePrivate),
    ...(oldNodePrivate ? { oldNodePrivate: privateToText(oldNodePrivate) } : {}),
    nlPrivatePkcs8Hex: nlPrivatePkcs8.toString('hex'),
  };
  const bytes = Buffer.from(JSON.stringify(stored), 'utf8');
  try {
    await store.set(STATE_NODE, bytes);
  } finally {
    bytes.fill(0);
  }
}

/** Zeroes the profile's private keys (once it is no longer used). */
export function wipeNodeProfile(p: NodeProfile | null | undefined): void {
  if (!p) return;
  p.nodePrivate.fill(0);
  p.oldNodePrivate?.fill(0);
  p.nlPrivatePkcs8.fill(0);
}

export async function deleteNodeProfile(store: Store): Promise<void> {
  await store.delete(STATE_NODE);
}

/** Copies what is worth remembering about the self node into the profile. */
export function rememberSelf(p: NodeProfile, self: Node): NodeProfile {
  const out: NodeProfile = { ...p, nodeID: self.ID };
  if (self.Name) out.name = self.Name;
  if (self.KeyExpiry) out.keyExpiry = self.KeyExpiry;
  return out;
}
