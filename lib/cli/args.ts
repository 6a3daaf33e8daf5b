// Command-line parsing and printing shared by the tsnet commands (lib/cli.ts; docs/cli.md).
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDevnetDir } from '../devnet/index.js';

/** The --dir line of a devnet command's usage, its description starting at column `w` as the block's others. */
export const DIR = (w: number): string => `--dir DIR${' '.repeat(Math.max(1, w - 9))}the devnet's state directory (default ${defaultDevnetDir()})`;

/** A command-line mistake: printed as one line plus the command's usage, exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
  }
}

export type Spec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** Parses `args` for `command` strictly: unknown options and missing values are UsageErrors. */
export function parse(command: string, args: string[], spec: Spec, positionals = 0): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let r: ReturnType<typeof parseArgs>;
  try {
    r = parseArgs({ args, options: { ...spec, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const opt = /'([^']+)'/.exec(err.message)?.[1] ?? '';
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${opt}`, command);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`option ${opt.split(/[ ,]/)[0]} ${/argument missing/.test(err.message) ? 'needs a value' : 'takes no value'}`, command);
    throw new UsageError(err.message.split('\n')[0]!, command);
  }
  const values = r.values as Record<string, string | boolean | undefined>;
  if (values.help) throw new HelpRequest(command);
  if (r.positionals.length > positionals) throw new UsageError(`unexpected argument ${r.positionals[positionals]}`, command);
  return { values, positionals: r.positionals };
}

export class HelpRequest extends Error {
  constructor(readonly command: string) {
    super('help');
  }
}

export function intOption(command: string, name: string, v: string | boolean | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n > max) throw new UsageError(`--${name} must be an integer 0..${max}, got ${String(v)}`, command);
  return n;
}

export const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
export const tagList = (v: string | boolean | undefined): string[] | undefined =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    : undefined;

/** Prints rows under a header, columns padded (the last one not). */
export function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

/** The state directory a devnet command names with --dir, else the per-user default. */
export function devnetDir(values: Record<string, string | boolean | undefined>): string {
  return path.resolve(str(values.dir) ?? defaultDevnetDir());
}
