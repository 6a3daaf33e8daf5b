// Where `tsnet devnet` keeps its state (keys, nodes, the admin file) unless --dir says otherwise: a per-user
// directory, never the directory it was started from (docs/cli.md).
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * $XDG_STATE_HOME/tsnet/devnet, else per platform: ~/.local/state/tsnet/devnet (Linux and others),
 * ~/Library/Application Support/tsnet/devnet (macOS), %LOCALAPPDATA%\tsnet\devnet (Windows).
 */
export function defaultDevnetDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const home = os.homedir();
  const xdg = env.XDG_STATE_HOME;
  // XDG says relative paths are invalid and must be ignored.
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'tsnet', 'devnet');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'tsnet', 'devnet');
  if (platform === 'win32') return path.win32.join(env.LOCALAPPDATA || path.win32.join(home, 'AppData', 'Local'), 'tsnet', 'devnet');
  return path.join(home, '.local', 'state', 'tsnet', 'devnet');
}
