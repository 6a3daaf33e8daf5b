// What the bench scripts share: a child process that answers one JSON line per command (bench/node.mjs and
// the like), killed when the bench exits however it exits, and base64 X25519 key pairs.
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';

export const children = new Set();
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 180_000);
// A failed run must not leave servers holding the bench ports.
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

export class Proc {
  constructor(cmd, args, env = {}) {
    this.p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    children.add(this.p);
    this.p.once('exit', () => children.delete(this.p));
    this.p.stdin.on('error', () => {}); // a child that already exited: stop() still waits for its exit
    this.it = readline.createInterface({ input: this.p.stdout })[Symbol.asyncIterator]();
  }
  // Bounded (BENCH_STEP_MS, default 3 min): a stalled node fails its row instead of hanging the run.
  async next(what = 'reply') {
    let t;
    const timeout = new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${this.p.spawnargs.slice(0, 3).join(' ')}: no ${what} within ${STEP_MS} ms`)), STEP_MS); });
    const r = await Promise.race([this.it.next(), timeout]).finally(() => clearTimeout(t));
    if (r.done) throw new Error('bench process exited');
    const o = JSON.parse(r.value);
    if (o.error) throw new Error(o.error);
    return o;
  }
  call(cmd) { this.p.stdin.write(JSON.stringify(cmd) + '\n'); return this.next(cmd.op); }
  async stop() { this.p.stdin.write('{"op":"exit"}\n'); await new Promise((r) => { this.p.once('exit', r); setTimeout(r, 3000); }); this.p.kill('SIGKILL'); }
}

export function keypair() {
  const { privateKey } = generateKeyPairSync('x25519');
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const pub = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  return { priv: priv.toString('base64'), pub: pub.toString('base64') };
}
