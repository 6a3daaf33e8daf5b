/**
 * /machine/register decisions (docs/protocol/control.md §8), separate from HTTP: given
 * the state, the machine key proven by the Noise handshake and a parsed
 * RegisterRequest, decide the answer. The caller performs the Followup
 * long-poll when the outcome is "wait".
 */
import type { Hostinfo, RegisterRequest, RegisterResponse } from '../wire/tailcfg.js';
import { userOwnsTag } from './acl-compile.js';
import { checkHostinfo, normalizeHostinfo } from './hostinfo-check.js';
import { TAGGED_DEVICES_LOGIN, type DevnetState } from './state.js';
import type { DevnetNode, PendingRegistration } from './types.js';

export type RegisterOutcome =
  | { kind: 'response'; response: RegisterResponse; node?: DevnetNode }
  | { kind: 'wait'; pending: PendingRegistration }
  | { kind: 'error'; status: number; message: string };

export interface RegisterContext {
  now: Date;
  /** Builds the approval URL for a pending registration ID. */
  authURL: (id: string) => string;
}

const NODEKEY_RE = /^nodekey:[0-9a-f]{64}$/;
const ZERO_NODEKEY = `nodekey:${'0'.repeat(64)}`;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Checks the fields the server relies on; returns an error message or the typed request. */
export function validateRegisterRequest(body: unknown): RegisterRequest | string {
  if (!isObject(body)) return 'RegisterRequest must be a JSON object';
  const nk = body['NodeKey'];
  if (typeof nk !== 'string' || !NODEKEY_RE.test(nk) || nk === ZERO_NODEKEY) return 'RegisterRequest.NodeKey must be a non-zero "nodekey:<64 hex>"';
  const old = body['OldNodeKey'];
  if (old !== undefined && old !== null && old !== '' && (typeof old !== 'string' || !NODEKEY_RE.test(old))) {
    return 'RegisterRequest.OldNodeKey must be "nodekey:<64 hex>"';
  }
  if (typeof body['Version'] !== 'number' || !Number.isInteger(body['Version'])) return 'RegisterRequest.Version must be an integer';
  if (body['Hostinfo'] !== undefined && body['Hostinfo'] !== null) {
    const bad = checkHostinfo(body['Hostinfo'], 'RegisterRequest.Hostinfo');
    if (bad) return bad;
    body['Hostinfo'] = normalizeHostinfo(body['Hostinfo'] as Record<string, unknown>);
  }
  if (body['Ephemeral'] !== undefined && body['Ephemeral'] !== null && typeof body['Ephemeral'] !== 'boolean') return 'RegisterRequest.Ephemeral must be a boolean';
  const auth = body['Auth'];
  if (auth !== undefined && auth !== null) {
    if (!isObject(auth)) return 'RegisterRequest.Auth must be an object';
    if (auth['AuthKey'] !== undefined && typeof auth['AuthKey'] !== 'string') return 'RegisterRequest.Auth.AuthKey must be a string';
  }
  for (const k of ['Followup', 'Expiry'] as const) {
    if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'string') return `RegisterRequest.${k} must be a string`;
  }
  if (typeof body['Expiry'] === 'string' && body['Expiry'] !== '' && Number.isNaN(Date.parse(body['Expiry']))) {
    return 'RegisterRequest.Expiry must be an RFC 3339 time';
  }
  return body as unknown as RegisterRequest;
}

function isZeroTime(t: string | undefined): boolean {
  return !t || t.startsWith('0001-01-01');
}

function hostinfoOf(req: RegisterRequest): Hostinfo {
  return req.Hostinfo && typeof req.Hostinfo === 'object' ? req.Hostinfo : {};
}

/** The successful answer for a node. */
export function doneResponse(state: DevnetState, n: DevnetNode): RegisterResponse {
  const owner = n.tags.length ? state.allUsers().find((u) => u.loginName === TAGGED_DEVICES_LOGIN) : undefined;
  const u = owner ?? state.user(n.userId);
  return {
    User: { ID: u?.id ?? n.userId, DisplayName: u?.displayName ?? '', ProfilePicURL: '', Created: u?.created ?? n.created, LoginName: u?.loginName ?? '' },
    Login: { ID: u?.id ?? n.userId, Provider: 'devnet', LoginName: u?.loginName ?? '', DisplayName: u?.displayName ?? '', ProfilePicURL: '' },
    MachineAuthorized: n.authorized,
    NodeKeyExpired: false,
  };
}

/** Tags a user may take through Hostinfo.RequestTags (only those the policy's tagOwners allow). */
function allowedRequestTags(state: DevnetState, userLogin: string, hi: Hostinfo): string[] | string {
  const req = Array.isArray(hi.RequestTags) ? hi.RequestTags : [];
  for (const t of req) {
    if (typeof t !== 'string' || !userOwnsTag(state.policy, userLogin, t)) return `requested tag ${JSON.stringify(t)} is not permitted for ${userLogin} by the policy's tagOwners`;
  }
  return [...new Set(req)];
}

export function handleRegister(state: DevnetState, machineKey: string, req: RegisterRequest, ctx: RegisterContext): RegisterOutcome {
  const { now } = ctx;
  const hi = hostinfoOf(req);
  const byKey = state.nodeByNodeKey(req.NodeKey);
  if (byKey && byKey.machineKey !== machineKey) {
    return { kind: 'error', status: 403, message: 'this node key is registered to a different machine key' };
  }
  const oldKey = req.OldNodeKey && req.OldNodeKey !== ZERO_NODEKEY ? req.OldNodeKey : '';
  const byOld = !byKey && oldKey ? state.nodeByNodeKey(oldKey) : undefined;
  if (byOld && byOld.machineKey !== machineKey) {
    return { kind: 'error', status: 403, message: 'the old node key is registered to a different machine key' };
  }
  const existing = byKey ?? byOld;

  // Logout: an expiry in the past with the current key.
  if (req.Expiry && !isZeroTime(req.Expiry) && Date.parse(req.Expiry) <= now.getTime()) {
    if (byKey) {
      if (byKey.ephemeral) state.removeNode(byKey.id);
      else state.expireNode(byKey.id, now);
      return { kind: 'response', response: { ...doneResponse(state, byKey), NodeKeyExpired: true } };
    }
    return { kind: 'response', response: { NodeKeyExpired: true, MachineAuthorized: false } };
  }

  const authKey = req.Auth?.AuthKey;
  if (authKey) {
    const rec = state.checkAuthKey(authKey, now);
    if (typeof rec === 'string') return { kind: 'response', response: { Error: rec } };
    const owner = state.user(rec.userId);
    let tags = rec.tags;
    if (!tags.length && owner) {
      const t = allowedRequestTags(state, owner.loginName, hi);
      if (typeof t === 'string') return { kind: 'response', response: { Error: t } };
      tags = t;
    }
    const sameMachine = existing ?? state.nodeByMachineKey(machineKey);
    const node = state.upsertAuthenticatedNode(
      {
        ...(sameMachine ? { existing: sameMachine } : {}),
        machineKey,
        nodeKey: req.NodeKey,
        userId: rec.userId,
        tags,
        hostinfo: hi,
        ephemeral: rec.ephemeral || req.Ephemeral === true,
        authorized: rec.preauthorized || (sameMachine?.authorized ?? false),
        capVersion: req.Version,
      },
      now,
    );
    state.markAuthKeyUsed(rec);
    return { kind: 'response', response: doneResponse(state, node), node };
  }

  // Refresh of a known, valid key.
  if (byKey && !state.isKeyExpired(byKey, now)) {
    state.updateFromMapRequest(byKey, { hostinfo: Object.keys(hi).length ? hi : byKey.hostinfo, capVersion: req.Version });
    return { kind: 'response', response: doneResponse(state, byKey), node: byKey };
  }
  // Rotation: the old key is still valid, so the node keeps its identity.
  if (byOld && !state.isKeyExpired(byOld, now)) {
    state.rotateNodeKey(byOld, req.NodeKey, now);
    return { kind: 'response', response: doneResponse(state, byOld), node: byOld };
  }

  // Interactive login.
  if (req.Followup) {
    const p = state.pendingByURL(req.Followup);
    if (p && p.machineKey === machineKey && p.nodeKey === req.NodeKey) {
      if (p.approval) {
        const n = state.node(p.approval.nodeId);
        if (n) {
          state.dropPending(p.id);
          return { kind: 'response', response: doneResponse(state, n), node: n };
        }
      } else {
        return { kind: 'wait', pending: p };
      }
    }
    // Unknown (server restarted, or already used): start over with a new URL.
  }
  const pending =
    state.pendingByNodeKey(machineKey, req.NodeKey) ??
    state.createPending(
      { machineKey, nodeKey: req.NodeKey, oldNodeKey: oldKey, hostinfo: hi, ephemeral: req.Ephemeral === true, capVersion: req.Version },
      ctx.authURL,
      now,
    );
  if (existing && state.isKeyExpired(existing, now)) {
    return { kind: 'response', response: { AuthURL: pending.url, NodeKeyExpired: false, MachineAuthorized: existing.authorized } };
  }
  return { kind: 'response', response: { AuthURL: pending.url, MachineAuthorized: false } };
}

/** After a Followup wait ends: the answer for the client. */
export function followupResult(state: DevnetState, pending: PendingRegistration): RegisterResponse {
  const p = state.pendingById(pending.id);
  if (p?.approval) {
    const n = state.node(p.approval.nodeId);
    if (n) {
      state.dropPending(p.id);
      return doneResponse(state, n);
    }
  }
  // Not approved yet: the client sends the same Followup again.
  return { AuthURL: pending.url, MachineAuthorized: false };
}
