// A three-namespace test network: a hub namespace routing between two node namespaces, a and b.
//
//   a (10.231.1.2) ── veth ── (10.231.1.1) hub (10.231.2.1) ── veth ── (10.231.2.2) b
//                              hub service address 10.231.0.1 on its loopback
//
// Every name carries the test process's pid, so parallel runs do not collide. IP forwarding is switched on
// inside the hub namespace only; the root namespace's interfaces, routes, firewall and sysctls are never
// touched (the veths are created directly inside the namespaces). The hub can drop UDP forwarded between a
// and b (an nftables table in the hub), while UDP to the hub itself (STUN) and all TCP keep flowing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as readline from 'node:readline';

export const SUBNET_A = '10.231.1.0/24';
export const SUBNET_B = '10.231.2.0/24';
export const HUB_ON_A = '10.231.1.1';
export const HUB_ON_B = '10.231.2.1';
export const ADDR_A = '10.231.1.2';
export const ADDR_B = '10.231.2.2';
/** The hub's own address on its loopback: where the devnet (control, DERP, STUN) listens. */
export const HUB_SERVICE = '10.231.0.1';

const NFT_TABLE = 'tsnet_test';

const have = (cmd: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Why the namespace tests cannot run here ('' when they can). */
export function netnsUnavailable(): string {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!have('ip')) return 'needs iproute2 (scripts/test-deps.sh)';
  if (!have('nft')) return 'needs nftables (scripts/test-deps.sh)';
  return '';
}

export function sh(args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  return execFileSync(args[0]!, args.slice(1), {
    encoding: 'utf8',
    input: opts.input,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: opts.timeoutMs ?? 30_000,
  });
}

/** A child process that answers JSON-line commands on stdin with JSON lines on stdout (stderr passes through). */
export class LineChild {
  readonly proc: ChildProcess;
  readonly #lines: AsyncIterator<string>;
  #exited = false;

  constructor(cmd: string, args: string[], readonly label: string) {
    this.proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.once('exit', () => { this.#exited = true; });
    this.proc.stdin!.on('error', () => { /* the child is gone; next() reports it */ });
    this.#lines = readline.createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }

  /** The next JSON line; rejects when the child exits first or nothing comes within timeoutMs. */
  async next(timeoutMs = 30_000): Promise<Record<string, unknown>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label}: no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const r = await Promise.race([this.#lines.next(), timeout]);
      if (r.done) throw new Error(`${this.label}: process exited (code ${this.proc.exitCode}, signal ${this.proc.signalCode})`);
      return JSON.parse(r.value) as Record<string, unknown>;
    } finally {
      clearTimeout(timer);
    }
  }

  call(cmd: object, timeoutMs?: number): Promise<Record<string, unknown>> {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    return this.next(timeoutMs);
  }

  /** Asks the child to exit ({"op":"exit"}), then kills it after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.write('{"op":"exit"}\n');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

// Small probes run with `node -e` inside a namespace. The receiver prints {"port":N} once bound, then one
// {"got":...} line: the first datagram (or TCP payload) within its deadline, or null.
const UDP_RECEIVER = `
const s = require('node:dgram').createSocket('udp4');
const [addr, ms] = [process.argv[1], Number(process.argv[2])];
s.bind(0, addr, () => console.log(JSON.stringify({ port: s.address().port })));
const t = setTimeout(() => { console.log(JSON.stringify({ got: null })); process.exit(0); }, ms);
s.on('message', (m) => { clearTimeout(t); console.log(JSON.stringify({ got: m.toString() })); process.exit(0); });
`;
const UDP_SENDER = `
const s = require('node:dgram').createSocket('udp4');
const [addr, port, text] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
let n = 0;
const send = () => s.send(text, port, addr, () => { if (++n < 5) setTimeout(send, 50); else s.close(); });
send();
`;
const TCP_RECEIVER = `
const [addr, ms] = [process.argv[1], Number(process.argv[2])];
const srv = require('node:net').createServer((c) => c.on('data', (d) => { console.log(JSON.stringify({ got: d.toString() })); process.exit(0); }));
srv.listen(0, addr, () => console.log(JSON.stringify({ port: srv.address().port })));
setTimeout(() => { console.log(JSON.stringify({ got: null })); process.exit(0); }, ms);
`;
const TCP_SENDER = `
const [addr, port, text] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
const c = require('node:net').connect(port, addr, () => c.end(text));
c.on('error', (e) => { console.error(e.message); process.exit(1); });
c.setTimeout(5000, () => process.exit(1));
`;

/** Deletes namespaces this harness made in runs that died before cleaning up (their pid is gone). */
function sweepStaleNamespaces(): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync('/var/run/netns');
  } catch {
    return;
  }
  for (const ns of names) {
    const m = /^tsn-(\d+)-(hub|a|b)$/.exec(ns);
    if (!m || fs.existsSync(`/proc/${m[1]}`)) continue;
    try {
      sh(['ip', 'netns', 'del', ns]);
    } catch {
      /* gone meanwhile */
    }
  }
}

export class Topology {
  readonly hub: string;
  readonly a: string;
  readonly b: string;
  readonly #vethHubA: string;
  readonly #vethA: string;
  readonly #vethHubB: string;
  readonly #vethB: string;
  readonly #children = new Set<ChildProcess>();

  constructor(tag = String(process.pid)) {
    this.hub = `tsn-${tag}-hub`;
    this.a = `tsn-${tag}-a`;
    this.b = `tsn-${tag}-b`;
    // Interface names: at most 15 characters.
    this.#vethHubA = `tn${tag}ha`;
    this.#vethA = `tn${tag}a`;
    this.#vethHubB = `tn${tag}hb`;
    this.#vethB = `tn${tag}b`;
  }

  get namespaces(): string[] {
    return [this.hub, this.a, this.b];
  }

  /** Creates the namespaces and links; on any failure, removes what it made and rethrows. */
  create(): void {
    this.destroy(); // leftovers of an earlier run with the same pid
    sweepStaleNamespaces();
    try {
      for (const ns of this.namespaces) {
        sh(['ip', 'netns', 'add', ns]);
        sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      }
      sh(['ip', '-n', this.hub, 'addr', 'add', `${HUB_SERVICE}/32`, 'dev', 'lo']);
      const links = [
        [this.a, this.#vethA, ADDR_A, this.#vethHubA, HUB_ON_A],
        [this.b, this.#vethB, ADDR_B, this.#vethHubB, HUB_ON_B],
      ] as const;
      for (const [ns, dev, addr, hubDev, hubAddr] of links) {
        sh(['ip', 'link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', hubDev, 'netns', this.hub]);
        sh(['ip', '-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
        sh(['ip', '-n', this.hub, 'addr', 'add', `${hubAddr}/24`, 'dev', hubDev]);
        sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
        sh(['ip', '-n', this.hub, 'link', 'set', hubDev, 'up']);
        sh(['ip', '-n', ns, 'route', 'add', 'default', 'via', hubAddr]);
      }
      // Only inside the hub: `ip netns exec` runs sysctl with the hub's /proc/sys/net.
      this.exec(this.hub, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Runs a command in a namespace and returns its stdout. */
  exec(ns: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
    return sh(['ip', 'netns', 'exec', ns, ...args], opts);
  }

  /** A JSON-line child process in a namespace (killed by destroy() if still running). */
  spawnLineChild(ns: string, args: string[], label: string): LineChild {
    const c = new LineChild('ip', ['netns', 'exec', ns, ...args], label);
    this.#children.add(c.proc);
    c.proc.once('exit', () => this.#children.delete(c.proc));
    return c;
  }

  /** Drops UDP forwarded between a's and b's subnets (both directions); UDP to the hub and all TCP pass. */
  blockUdpBetweenNodes(): void {
    this.allowUdpBetweenNodes(); // idempotent: never two copies of the table's rules
    this.exec(this.hub, ['nft', '-f', '-'], {
      input: `
        table inet ${NFT_TABLE} {
          chain forward {
            type filter hook forward priority filter; policy accept;
            ip saddr ${SUBNET_A} ip daddr ${SUBNET_B} meta l4proto udp counter drop
            ip saddr ${SUBNET_B} ip daddr ${SUBNET_A} meta l4proto udp counter drop
          }
        }
      `,
    });
  }

  allowUdpBetweenNodes(): void {
    try {
      this.exec(this.hub, ['nft', 'delete', 'table', 'inet', NFT_TABLE]);
    } catch {
      /* not there */
    }
  }

  /** Packets the hub's UDP rules have dropped (0 without the table). */
  droppedUdpPackets(): number {
    try {
      const out = this.exec(this.hub, ['nft', 'list', 'table', 'inet', NFT_TABLE]);
      return [...out.matchAll(/counter packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    } catch {
      return 0;
    }
  }

  /** Sends a few UDP datagrams from `from` to a fresh socket on `toAddr` in `to`; the first that arrived, or null. */
  async udpProbe(from: string, to: string, toAddr: string, waitMs = 1500): Promise<string | null> {
    return this.#probe(UDP_RECEIVER, UDP_SENDER, from, to, toAddr, waitMs);
  }

  /** Connects over TCP from `from` to a fresh listener on `toAddr` in `to` and sends a line; what arrived, or null. */
  async tcpProbe(from: string, to: string, toAddr: string, waitMs = 5000): Promise<string | null> {
    return this.#probe(TCP_RECEIVER, TCP_SENDER, from, to, toAddr, waitMs);
  }

  async #probe(receiver: string, sender: string, from: string, to: string, toAddr: string, waitMs: number): Promise<string | null> {
    const rx = this.spawnLineChild(to, [process.execPath, '-e', receiver, toAddr, String(waitMs)], `probe receiver in ${to}`);
    try {
      const { port } = await rx.next(10_000);
      const text = `probe ${from} -> ${to}`;
      try {
        this.exec(from, [process.execPath, '-e', sender, toAddr, String(port), text], { timeoutMs: 10_000 });
      } catch {
        /* a failed send (TCP refused or timed out) shows as nothing received */
      }
      const { got } = await rx.next(waitMs + 10_000);
      return typeof got === 'string' ? got : null;
    } finally {
      rx.proc.kill('SIGKILL');
    }
  }

  /** Kills the children still running and deletes the namespaces (and with them the veths and nft table). */
  destroy(): void {
    for (const p of this.#children) p.kill('SIGKILL');
    this.#children.clear();
    for (const ns of this.namespaces) {
      // Processes left in the namespace (e.g. a grandchild of `ip netns exec`) would keep it alive.
      try {
        const pids = sh(['ip', 'netns', 'pids', ns]).split(/\s+/).filter(Boolean);
        for (const pid of pids) {
          try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
        }
      } catch {
        /* no such namespace */
      }
      try {
        sh(['ip', 'netns', 'del', ns]);
      } catch {
        /* not there */
      }
    }
  }

  /** True while any of the namespaces exists (for cleanup checks). */
  exists(): boolean {
    return this.namespaces.some((ns) => fs.existsSync(`/var/run/netns/${ns}`));
  }
}
