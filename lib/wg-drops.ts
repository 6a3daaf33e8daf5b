// WireGuard's per-reason drop counters (the core's ts_wg_drop reasons, native/core/wg/wg.h), as typed
// camelCase fields for WireGuard#drops() and Server#status().drops.
import type { Device } from './net/device.js';

/** Packets the WireGuard core dropped since the node started, one counter per reason. */
export interface WireGuardDrops {
  /** Unknown message type or nonzero reserved bytes. */
  badType: number;
  /** Length does not fit the message type. */
  badLength: number;
  /** Handshake message with a wrong mac1 (not meant for our key). */
  mac1: number;
  /** Under load without a valid mac2: answered with a cookie reply instead. */
  cookieSent: number;
  /** Under load and the source exceeded its handshake rate. */
  rateLimited: number;
  /** A handshake message that failed to authenticate. */
  handshakeDecrypt: number;
  /** An initiation from a static key that is no peer. */
  unknownPeer: number;
  /** An initiation whose timestamp is not newer than the last accepted one (a replayed initiation). */
  timestampReplay: number;
  /** Initiations from one peer faster than 50 per second. */
  initiationFlood: number;
  /** A receiver index that matches no session or pending handshake. */
  unknownIndex: number;
  /** A handshake response not expected in the current handshake state. */
  handshakeState: number;
  /** A cookie reply that does not authenticate or was not expected. */
  cookieInvalid: number;
  /** Data on a session older than REJECT_AFTER_TIME. */
  keypairExpired: number;
  /** Data that failed to authenticate. */
  decrypt: number;
  /** A data counter seen before or too old (a replayed packet). */
  replay: number;
  /** A decrypted payload that is no well-formed IP packet. */
  badInner: number;
  /** An inner source address outside the peer's AllowedIPs. */
  sourceNotAllowed: number;
  /** Outbound: no peer's AllowedIPs contain the destination. */
  noRoute: number;
  /** Outbound: a packet too large. */
  tooBig: number;
  /** The queue waiting for a session was full: its oldest packet was dropped. */
  queueFull: number;
  /** Queued packets discarded (the handshake gave up, keys expired, the peer was removed). */
  queueFlushed: number;
  noMemory: number;
  /** A peer whose public key is a low-order point (no handshake possible), or traffic for it. */
  peerKey: number;
  /** Under load without a valid mac2, and its source address already had its cookie replies (20/s). */
  cookieLimited: number;
}

const REASONS: ReadonlyArray<keyof WireGuardDrops> = [
  'badType', 'badLength', 'mac1', 'cookieSent', 'rateLimited', 'handshakeDecrypt', 'unknownPeer',
  'timestampReplay', 'initiationFlood', 'unknownIndex', 'handshakeState', 'cookieInvalid', 'keypairExpired',
  'decrypt', 'replay', 'badInner', 'sourceNotAllowed', 'noRoute', 'tooBig', 'queueFull', 'queueFlushed',
  'noMemory', 'peerKey', 'cookieLimited',
];

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** All counters zero (a node whose data plane is not up yet). */
export function noDrops(): WireGuardDrops {
  return Object.fromEntries(REASONS.map((k) => [k, 0])) as unknown as WireGuardDrops;
}

/** Reads the device's counters; a reason the native core does not report reads 0. */
export function readDrops(device: Device): WireGuardDrops {
  const raw = device.drops();
  const out = noDrops();
  for (const k of REASONS) out[k] = raw[snake(k)] ?? 0;
  return out;
}
