/**
 * Followup long-polls (docs/protocol/control.md §8): a registration request carrying
 * `Followup` waits until its login is approved, the client goes away, or a
 * timeout passes. Waiters are keyed by the pending registration's ID.
 */
export class FollowupWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** onChange: a request started or stopped waiting (the devnet reports it as a change of its pending logins). */
  constructor(private readonly onChange: () => void = () => {}) {}

  /** Whether a client's Followup request for `id` is being held now. */
  waiting(id: string): boolean {
    return (this.waiters.get(id)?.size ?? 0) > 0;
  }

  /**
   * Resolves "woken" when `wake(id)` is called, "timeout" after `timeoutMs`,
   * or "gone" when `gone` fires (the client closed the request).
   */
  wait(id: string, timeoutMs: number, gone: { once(ev: 'close', fn: () => void): unknown; off(ev: 'close', fn: () => void): unknown }): Promise<'woken' | 'timeout' | 'gone'> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) {
        set = new Set();
        this.waiters.set(id, set);
      }
      const mine = set;
      const finish = (why: 'woken' | 'timeout' | 'gone'): void => {
        clearTimeout(timer);
        mine.delete(onWake);
        if (!mine.size && this.waiters.get(id) === mine) this.waiters.delete(id);
        gone.off('close', onGone);
        this.onChange();
        resolve(why);
      };
      const onWake = (): void => finish('woken');
      const onGone = (): void => finish('gone');
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      timer.unref?.();
      mine.add(onWake);
      gone.once('close', onGone);
      this.onChange();
    });
  }

  wake(id: string): void {
    for (const w of [...(this.waiters.get(id) ?? [])]) w();
  }

  wakeAll(): void {
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }

  get size(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }
}
