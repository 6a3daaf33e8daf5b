// Server#capturePcap: the node's decrypted IP packets, both directions, in a pcap file (LINKTYPE_RAW: each
// record is a bare IPv4 or IPv6 packet, which tcpdump and Wireshark read as is). The engine copies packets to
// JavaScript only while a capture runs (Device#setCapture; docs/api.md, "Packet capture").
import * as fs from 'node:fs';
import type { NativeEvent } from '../native.js';
import type { Device } from '../net/device.js';

const LINKTYPE_RAW = 101;
const SNAPLEN = 65_535;
// A disk slower than the tailnet: past this much unwritten, packets are left out (and counted).
const MAX_PENDING = 64 * 1024 * 1024;

export interface PcapCapture {
  /** The file written. */
  readonly file: string;
  /** Packets written so far, and packets left out because the file could not keep up. */
  readonly packets: number;
  readonly dropped: number;
  /** Stops capturing; resolves once the file is complete. */
  close(): Promise<void>;
}

function globalHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0); // microsecond timestamps, little-endian
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(SNAPLEN, 16);
  h.writeUInt32LE(LINKTYPE_RAW, 20);
  return h;
}

// One capture per device at a time (the engine has one tap per device).
const capturing = new WeakSet<Device>();

/** Starts a capture on `device` into `file` (created or truncated, mode 0600: packets are private). */
export async function startPcap(device: Device, file: string): Promise<PcapCapture> {
  if (capturing.has(device)) {
    throw Object.assign(new Error('capturePcap: a capture is already running on this node'), { code: 'ERR_TSNET_CAPTURE_BUSY' });
  }
  capturing.add(device);
  const out = fs.createWriteStream(file, { mode: 0o600 });
  try {
    await new Promise<void>((resolve, reject) => {
      out.once('open', () => resolve());
      out.once('error', reject);
    });
  } catch (err) {
    capturing.delete(device);
    throw err;
  }
  out.on('error', () => undefined); // a failed write ends the capture (close() still resolves)
  out.write(globalHeader());
  const id = device.allocId();
  let packets = 0;
  let dropped = 0;
  let open = true;
  device.register(id, {
    onNativeEvent(ev: NativeEvent) {
      if (ev.type !== 'capture' || !open) return;
      if (out.writableLength > MAX_PENDING || out.destroyed) {
        dropped++;
        return;
      }
      const rec = Buffer.alloc(16);
      rec.writeUInt32LE(ev.sec >>> 0, 0);
      rec.writeUInt32LE(ev.usec >>> 0, 4);
      rec.writeUInt32LE(ev.data.length, 8);
      rec.writeUInt32LE(ev.data.length, 12);
      out.write(rec);
      out.write(ev.data);
      packets++;
    },
  });
  try {
    device.setCapture(id);
  } catch (err) {
    device.unregister(id);
    capturing.delete(device);
    out.destroy();
    throw err;
  }
  return {
    file,
    get packets() {
      return packets;
    },
    get dropped() {
      return dropped;
    },
    close: async () => {
      if (!open) return;
      open = false;
      try {
        device.setCapture(0);
      } catch {
        /* the device is closed: nothing more comes */
      }
      device.unregister(id);
      capturing.delete(device);
      await new Promise<void>((resolve) => out.end(() => resolve()));
    },
  };
}
