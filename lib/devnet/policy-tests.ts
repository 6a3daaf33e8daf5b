/**
 * The policy file's `tests` section: assertions that a source may (accept)
 * or may not (deny) reach destinations. Checked when a policy is set, as
 * Tailscale does, so a policy that breaks its own tests is refused.
 *
 * Each principal named in the tests becomes a synthetic node (a user's
 * device, a tagged device, or an address), the policy is compiled against
 * those nodes, and every assertion is checked against the resulting rules.
 */
import type { FilterRule } from '../wire/tailcfg.js';
import { compileFilter, type PolicyNode } from './acl-compile.js';
import { ipToString, parseIP, parsePrefix } from '../wire/ip.js';
import { parsePolicy, parsePorts, parseProto, PolicyError, splitHostPorts, type Policy, type PolicyTestSpec } from './policy.js';
import { parseAddrs, specMatches } from './peer-visibility.js';

export type PolicyTest = PolicyTestSpec;

/** Default IP protocols a rule without IPProto covers. */
const DEFAULT_PROTOS = [6, 17, 1, 58];

class Principals {
  private readonly nodes = new Map<string, PolicyNode>();
  private next = 1;

  constructor(private readonly policy: Policy) {}

  private synthetic(): string {
    // 100.127.0.0/16 holds the synthetic devices; real tailnet nodes are never involved.
    const n = this.next++;
    return `100.127.${(n >> 8) & 255}.${n & 255}`;
  }

  node(principal: string): PolicyNode | string {
    const known = this.nodes.get(principal);
    if (known) return known;
    const id = this.nodes.size + 1;
    let node: PolicyNode;
    if (principal.startsWith('tag:')) {
      node = { id, addresses: [this.synthetic()], user: 'tagged-devices', tags: [principal] };
    } else if (principal.startsWith('group:')) {
      const members = (this.policy.groups?.[principal] ?? []).filter((m) => m !== 'autogroup:member');
      if (!members.length) return `group ${principal} has no members to test with`;
      node = { id, addresses: [this.synthetic()], user: members[0]!, tags: [] };
    } else if (principal === 'autogroup:member') {
      node = { id, addresses: [this.synthetic()], user: 'some-member@devnet.test', tags: [] };
    } else if (principal.includes('@')) {
      node = { id, addresses: [this.synthetic()], user: principal, tags: [] };
    } else {
      const lit = this.policy.hosts?.[principal] ?? principal;
      const ip = parseIP(lit) ?? parsePrefix(lit, true)?.addr;
      if (!ip) return `cannot test with ${JSON.stringify(principal)} (want a user, group, tag, host or IP)`;
      node = { id, addresses: [ipToString(ip)], user: '', tags: [] };
    }
    this.nodes.set(principal, node);
    return node;
  }

  all(): PolicyNode[] {
    return [...this.nodes.values()];
  }
}

function reaches(rules: readonly FilterRule[], src: PolicyNode, dst: PolicyNode, port: number, protos: number[]): boolean {
  const from = parseAddrs(src.addresses);
  const to = parseAddrs(dst.addresses);
  return rules.some((r) => {
    if (!(r.SrcIPs ?? []).some((s) => specMatches(s, from))) return false;
    const ruleProtos = r.IPProto?.length ? r.IPProto : DEFAULT_PROTOS;
    if (!protos.every((p) => ruleProtos.includes(p))) return false;
    return (r.DstPorts ?? []).some((d) => specMatches(d.IP, to) && d.Ports.First <= port && port <= d.Ports.Last);
  });
}

/** Runs the tests; returns one message per failed or malformed assertion (empty = all pass). */
export function runPolicyTests(policy: Policy, tests: readonly PolicyTest[]): string[] {
  const principals = new Principals(policy);
  const failures: string[] = [];
  const planned: Array<{ i: number; src: PolicyNode; dst: PolicyNode; port: number; protos: number[]; want: boolean; text: string }> = [];
  tests.forEach((t, i) => {
    const src = principals.node(t.src);
    if (typeof src === 'string') {
      failures.push(`tests[${i}]: ${src}`);
      return;
    }
    const protos = t.proto !== undefined ? (parseProto(t.proto) ?? []) : [6];
    if (!protos.length) {
      failures.push(`tests[${i}]: unknown protocol ${JSON.stringify(t.proto)}`);
      return;
    }
    for (const [list, want] of [
      [t.accept ?? [], true],
      [t.deny ?? [], false],
    ] as const) {
      for (const d of list) {
        const hp = splitHostPorts(d);
        const ports = hp ? parsePorts(hp.ports) : null;
        if (!hp || !ports || ports.length !== 1 || ports[0]!.first !== ports[0]!.last) {
          failures.push(`tests[${i}]: ${JSON.stringify(d)} must be "destination:port" with one port`);
          continue;
        }
        const dst = principals.node(hp.host);
        if (typeof dst === 'string') {
          failures.push(`tests[${i}]: ${dst}`);
          continue;
        }
        planned.push({ i, src, dst, port: ports[0]!.first, protos, want, text: d });
      }
    }
  });
  const rules = compileFilter(policy, principals.all());
  for (const p of planned) {
    const got = reaches(rules, p.src, p.dst, p.port, p.protos);
    if (got !== p.want) {
      failures.push(`tests[${p.i}]: ${tests[p.i]!.src} → ${p.text} is ${got ? 'accepted' : 'denied'}, but the test expects it ${p.want ? 'accepted' : 'denied'}`);
    }
  }
  return failures;
}

/** parsePolicy plus its `tests` section: throws PolicyError listing every failed assertion. */
export function parseAndTestPolicy(input: string | object): Policy {
  const p = parsePolicy(input);
  if (p.tests?.length) {
    const failures = runPolicyTests(p, p.tests);
    if (failures.length) throw new PolicyError(`policy tests failed:\n  ${failures.join('\n  ')}`);
  }
  return p;
}
