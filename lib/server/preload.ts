// Time to up() (docs/performance.md, "Time to up()"): up() is CPU-bound in this process, and loading the data
// plane's modules is about a seventh of it. The Server loads them once registered, while its first map request
// is in flight, where the process would otherwise wait for the control server.
import { dataPlaneLayer } from './layers.js';

let scheduled = false;

/** Loads the data plane's modules on the next turn of the event loop, once per process. */
export function preloadDataPlane(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    try {
      dataPlaneLayer();
    } catch {
      // The Server loads it again when it needs it and reports the failure there.
    }
  });
}
