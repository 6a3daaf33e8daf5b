/**
 * The node's persistent identity in a Store: machine key (Tailscale's
 * `_machinekey` state key, "privkey:<hex>"), and the node profile (node key,
 * previous node key during rotation, tailnet-lock key, log ID, login info)
 * as JSON under `_tsnet-node`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ControlError } from './errors.js';
import { generatePrivateKey, parsePrivate, privateToText } from './keys.js';
import type { Store } from './store.js';
import type { Node, UserProfile } from './tailcfg.js';

export const STATE_MACHINE_KEY = '_machinekey';
export const STATE_NODE = '_tsnet-node';

export interface NodeProfile {
  /** Current node private key ("privkey:<hex>"). */
  nodePrivate: string;
  /** Previous node private key while a rotation is being registered. */
  oldNodePrivate?: string;
  /** Tailnet-lock key pair (ed25519), hex of the raw 32-byte public key and PKCS#8 private key. */
  nlPublicHex: string;
  nlPrivatePkcs8Hex: string;
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

export async function loadOrCreateMachineKey(store: Store): Promise<Buffer> {
  const raw = await store.get(STATE_MACHINE_KEY);
  if (raw && raw.length) {
    try {
      return parsePrivate(raw.toString('utf8').trim());
    } catch (cause) {
      throw new ControlError('ERR_STORE', `stored ${STATE_MACHINE_KEY} is malformed`, { cause });
    }
  }
  const key = generatePrivateKey();
  await store.set(STATE_MACHINE_KEY, Buffer.from(privateToText(key), 'utf8'));
  return key;
}

export function newNodeProfile(): NodeProfile {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    nodePrivate: privateToText(generatePrivateKey()),
    nlPublicHex: spki.subarray(spki.length - 32).toString('hex'),
    nlPrivatePkcs8Hex: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('hex'),
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
  }
  const p = v as Partial<NodeProfile> | null;
  if (!p || typeof p !== 'object' || typeof p.nodePrivate !== 'string') {
    throw new ControlError('ERR_STORE', `stored ${STATE_NODE} lacks a node key`);
  }
  parsePrivate(p.nodePrivate);
  const fresh = newNodeProfile();
  return {
    ...p,
    nodePrivate: p.nodePrivate,
    nlPublicHex: typeof p.nlPublicHex === 'string' ? p.nlPublicHex : fresh.nlPublicHex,
    nlPrivatePkcs8Hex: typeof p.nlPrivatePkcs8Hex === 'string' ? p.nlPrivatePkcs8Hex : fresh.nlPrivatePkcs8Hex,
    backendLogID: typeof p.backendLogID === 'string' ? p.backendLogID : fresh.backendLogID,
    registered: p.registered === true,
  };
}

export async function saveNodeProfile(store: Store, p: NodeProfile): Promise<void> {
  await store.set(STATE_NODE, Buffer.from(JSON.stringify(p), 'utf8'));
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
