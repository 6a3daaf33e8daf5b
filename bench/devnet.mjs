// The development tailnet (control, DERP relay, STUN) in its own process for the bench, as a real relay would
// be: prints {"controlURL","authKey"} and runs until stdin closes.
import { startDevnet } from '../dist/index.js';

const devnet = await startDevnet();
const authKey = devnet.createAuthKey({ reusable: true, ephemeral: true });
process.stdout.write(JSON.stringify({ controlURL: devnet.controlURL, authKey }) + '\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  await devnet.close();
  process.exit(0);
});
