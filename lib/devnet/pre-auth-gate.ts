/**
 * Caps on connections that have not shown who they are yet (docs/architecture.md, "Development tailnet
 * limits"): on the control server a TCP connection until its Noise client is known, on the DERP relay until
 * its ClientInfo is accepted. Each server has one gate.
 *
 * A new connection is always admitted; when that would go over a cap, an older unproven connection is closed
 * instead: the oldest one from the same address when that address is at its own cap, else the oldest one
 * from the address holding the most. A flood of idle connections thus displaces itself, and a real client,
 * which proves itself within milliseconds, still gets in, even from the flooding address (in tests every
 * client is 127.0.0.1). Connections that have proven themselves leave the gate and are never closed by it.
 */

export interface PreAuthLimits {
  /** Most unproven connections from one IP address. */
  perIP: number;
  /** Most unproven connections in all. */
  total: number;
}

export interface PreAuthStats {
  /** Unproven connections open now. */
  open: number;
  /** Unproven connections closed to make room for newer ones. */
  evicted: number;
}

/** One admitted connection; `release()` when it proves itself or closes (idempotent). */
export class PreAuthTicket {
  private released = false;

  constructor(
    private readonly gate: PreAuthGate,
    readonly ip: string,
    readonly evict: () => void,
  ) {}

  get active(): boolean {
    return !this.released;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.gate.forget(this);
  }
}

/** "::ffff:1.2.3.4" and "1.2.3.4" are one address. */
export function normalizeIP(addr: string | undefined): string {
  if (!addr) return 'unknown';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

export class PreAuthGate {
  /** Tickets by address, oldest first (a Set keeps insertion order). */
  private readonly byIP = new Map<string, Set<PreAuthTicket>>();
  private count = 0;
  private evicted = 0;

  constructor(private readonly limits: PreAuthLimits) {
    if (!Number.isInteger(limits.perIP) || limits.perIP < 1) throw new RangeError('preAuthPerIP must be an integer ≥ 1');
    if (!Number.isInteger(limits.total) || limits.total < 1) throw new RangeError('preAuthTotal must be an integer ≥ 1');
  }

  get stats(): PreAuthStats {
    return { open: this.count, evicted: this.evicted };
  }

  /** Admits a connection from `addr`, first closing older unproven ones if a cap would be exceeded. */
  admit(addr: string | undefined, evict: () => void): PreAuthTicket {
    const ip = normalizeIP(addr);
    for (let own = this.byIP.get(ip); own && own.size >= this.limits.perIP; ) this.evictOldest(own);
    while (this.count >= this.limits.total) {
      let heaviest: Set<PreAuthTicket> | undefined;
      for (const s of this.byIP.values()) if (!heaviest || s.size > heaviest.size) heaviest = s;
      this.evictOldest(heaviest!);
    }
    const t = new PreAuthTicket(this, ip, evict);
    let set = this.byIP.get(ip);
    if (!set) this.byIP.set(ip, (set = new Set()));
    set.add(t);
    this.count++;
    return t;
  }

  private evictOldest(set: Set<PreAuthTicket>): void {
    const oldest = set.values().next().value as PreAuthTicket;
    oldest.release();
    this.evicted++;
    try {
      oldest.evict();
    } catch {
      // The connection is gone either way.
    }
  }

  /** Ticket-internal: the ticket was released. */
  forget(t: PreAuthTicket): void {
    const set = this.byIP.get(t.ip);
    if (!set?.delete(t)) return;
    this.count--;
    if (set.size === 0) this.byIP.delete(t.ip);
  }
}
