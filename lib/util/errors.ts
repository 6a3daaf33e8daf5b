// Argument errors shaped like Node's own (a TypeError or RangeError with a `code`), for every layer of lib/.

/** A bad argument: a TypeError or RangeError carrying a `code`, as Node's own argument errors do. */
export function argumentError(
  kind: 'TypeError' | 'RangeError',
  code: string,
  message: string,
): (TypeError | RangeError) & { code: string } {
  const err = (kind === 'TypeError' ? new TypeError(message) : new RangeError(message)) as (TypeError | RangeError) & { code: string };
  err.code = code;
  return err;
}

/** How Node's ERR_INVALID_ARG_TYPE messages name the value received. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 28 ? `${value.slice(0, 25)}...` : value) : String(value);
  return `type ${typeof value} (${shown})`;
}

/** ERR_INVALID_ARG_TYPE: `name` must be `expected` ("a string", "a function", ...). */
export function invalidArgType(name: string, expected: string, value: unknown): TypeError & { code: string } {
  return argumentError('TypeError', 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}. Received ${describeValue(value)}`) as TypeError & { code: string };
}

/**
 * Unknown keys in an options object are typos more often than not (`authkey`): refuse them with
 * ERR_INVALID_ARG_VALUE, naming the closest known option.
 */
export function checkKnownOptions(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    throw argumentError('TypeError', 'ERR_INVALID_ARG_VALUE', `${what}: unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ''}`);
  }
}

function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === word.toLowerCase() ? 0 : editDistance(k.toLowerCase(), word.toLowerCase());
    if (d < bestDist) [best, bestDist] = [k, d];
  }
  return bestDist <= Math.max(1, Math.floor(word.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Any coded error (docs/api.md, "Errors"): err.code says what went wrong. */
export function codedError(code: string, message: string, Ctor: ErrorConstructor = Error): Error & { code: string } {
  return Object.assign(new Ctor(message), { code });
}
