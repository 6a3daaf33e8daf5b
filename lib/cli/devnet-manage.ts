// `tsnet devnet services|service|routes|policy`: services, routes and the ACL policy of a running devnet,
// through its admin endpoint (lib/devnet/admin.ts, admin-services.ts; docs/cli.md).
import * as fs from 'node:fs';
import { callDevnetAdmin, findDevnetAdmin } from '../devnet/admin-client.js';
import { type DevnetNodeInfo, type DevnetServiceInfo } from '../devnet/index.js';
import { DIR, devnetDir, parse, printTable, str, UsageError } from './args.js';


export const DEVNET_MANAGE_USAGE: Record<string, string> = {
  'devnet services': `usage: tsnet devnet services [--dir DIR] [--json]

Lists the running devnet's Tailscale Services: their VIP addresses and the hosts approved to serve them.

  ${DIR(13)}
  --json       print them as JSON`,
  'devnet service': `usage: tsnet devnet service define NAME [--addresses IP,IP] [--dir DIR]
       tsnet devnet service approve NAME NODE [--dir DIR]

define: defines the service NAME ("svc:web"), with VIPs chosen by the devnet unless --addresses gives them.
approve: approves NODE (its ID, hostname or MagicDNS name; a tagged node that advertises NAME) as a host.
The policy's autoApprovers approve hosts too (docs/services.md).

  ${DIR(20)}
  --addresses IP,IP   the service's VIP addresses`,
  'devnet routes': `usage: tsnet devnet routes approve NODE ROUTE[,ROUTE] [--dir DIR]

Approves subnet routes NODE advertises (its ID, hostname or MagicDNS name); 0.0.0.0/0 and ::/0 make it an
exit node. tsnet devnet nodes --json lists each node's advertisedRoutes and approvedRoutes.

  ${DIR(13)}`,
  'devnet policy': `usage: tsnet devnet policy [--set FILE | --reset] [--dir DIR]

Prints the running devnet's ACL policy (HuJSON), or replaces it: --set FILE ("-" reads standard input) is
checked first, with its tests, and refused as a whole if anything is wrong; --reset restores the default
(allow all). The devnet keeps it in its state directory.

  ${DIR(13)}
  --set FILE   the new policy
  --reset      back to the default policy`,
};

/** Handles the subcommand if it is one of these; false otherwise. */
export async function devnetManageCommand(sub: string, args: string[]): Promise<boolean> {
  const cmd = `devnet ${sub}`;
  const dirOpt = { dir: { type: 'string' } } as const;
  const admin = (values: Record<string, string | boolean | undefined>) => findDevnetAdmin(devnetDir(values));
  if (sub === 'services') {
    const { values } = parse(cmd, args, { ...dirOpt, json: { type: 'boolean' } });
    const list = (await callDevnetAdmin(await admin(values), 'services')) as DevnetServiceInfo[];
    if (values.json) return console.log(JSON.stringify(list, null, 2)), true;
    if (!list.length) return console.log('no services (tsnet devnet service define svc:NAME)'), true;
    printTable(['NAME', 'ADDRESSES', 'HOSTS'], list.map((s) => [s.name, s.addresses.join(', '), s.hosts.length ? s.hosts.join(', ') : '-']));
    return true;
  }
  if (sub === 'service') {
    const { values, positionals } = parse(cmd, args, { ...dirOpt, addresses: { type: 'string' } }, 3);
    const [verb, name, node] = positionals;
    if (verb === 'define') {
      if (!name || node) throw new UsageError('define takes one NAME, like svc:web', cmd);
      const addresses = str(values.addresses)?.split(',').map((a) => a.trim()).filter(Boolean);
      const s = (await callDevnetAdmin(await admin(values), 'services', { name, ...(addresses ? { addresses } : {}) })) as DevnetServiceInfo;
      return console.log(`defined ${s.name}: ${s.addresses.join(', ')}`), true;
    }
    if (verb === 'approve') {
      if (!name || !node) throw new UsageError('approve takes NAME and NODE', cmd);
      if (values.addresses !== undefined) throw new UsageError('--addresses applies to define', cmd);
      const s = (await callDevnetAdmin(await admin(values), 'services/approve', { name, node })) as DevnetServiceInfo;
      return console.log(`approved ${node} for ${s.name}; hosts now: ${s.hosts.length ? s.hosts.join(', ') : 'none yet (the node must be tagged and advertise the service)'}`), true;
    }
    throw new UsageError(verb ? `unknown service command ${verb}` : 'define or approve?', cmd);
  }
  if (sub === 'routes') {
    const { values, positionals } = parse(cmd, args, dirOpt, 3);
    const [verb, node, routes] = positionals;
    if (verb !== 'approve') throw new UsageError(verb ? `unknown routes command ${verb}` : 'approve?', cmd);
    if (!node || !routes) throw new UsageError('approve takes NODE and ROUTE[,ROUTE]', cmd);
    const list = routes.split(',').map((r) => r.trim()).filter(Boolean);
    const n = (await callDevnetAdmin(await admin(values), 'routes/approve', { node, routes: list })) as DevnetNodeInfo;
    return console.log(`approved for ${n.hostname || n.name}: ${list.join(', ')}; serving now: ${(n.approvedRoutes ?? []).join(', ') || 'none (not advertised yet)'}`), true;
  }
  if (sub === 'policy') {
    const { values } = parse(cmd, args, { ...dirOpt, set: { type: 'string' }, reset: { type: 'boolean' } });
    if (values.set !== undefined && values.reset) throw new UsageError('--set and --reset exclude each other', cmd);
    const ep = await admin(values);
    if (values.set === undefined && !values.reset) {
      const { policy } = (await callDevnetAdmin(ep, 'policy')) as { policy: string | null };
      return console.log(policy ?? '// the default policy: every node may reach every node on every port'), true;
    }
    const file = str(values.set);
    let text: string | null = null;
    if (file !== undefined) {
      try {
        text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
      } catch (e) {
        throw Object.assign(new Error(`cannot read ${file === '-' ? 'standard input' : file}: ${(e as Error).message}`), { code: 'ERR_TSNET_POLICY_FILE' });
      }
    }
    await callDevnetAdmin(ep, 'policy', { policy: text });
    return console.log(text === null ? 'policy reset to the default (allow all)' : 'policy replaced'), true;
  }
  return false;
}
