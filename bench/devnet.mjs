// The development tailnet (control, DERP relay, STUN) in its own process for the bench, as a real relay would
// be: prints {"controlURL","authKey"} and runs until stdin closes. argv[2], if given, is startDevnet's options
// as JSON (bench/derp-real.mjs passes a derpMap pointing at a real derper). A {"op":"stats"} line on stdin
// answers with the bundled relay's counters ({} without one).
import * as readline from 'node:readline';
import { startDevnet } from '../dist/devnet/index.js';

const devnet = await startDevnet(process.argv[2] ? JSON.parse(process.argv[2]) : {});
const authKey = devnet.createAuthKey({ reusable: true, ephemeral: true });
process.stdout.write(JSON.stringify({ controlURL: devnet.controlURL, authKey }) + '\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (JSON.parse(line).op === 'stats') process.stdout.write(JSON.stringify(devnet.relay?.derp.stats() ?? {}) + '\n');
}
await devnet.close();
process.exit(0);
