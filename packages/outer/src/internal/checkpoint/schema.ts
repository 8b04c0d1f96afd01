// The checkpoint files' schemas (zod/mini: small and tree-shaken in browser bundles) and the
// one place their errors are worded: the file, the field's dotted path, what was expected and
// what was found.
import * as z from 'zod/mini';

/** Any JS number, NaN and ±Infinity included (the files keep them, see json.ts). */
const anyNumber = z.custom<number>((v) => typeof v === 'number', { error: 'expected a number' });
const count = z.int().check(z.minimum(0));
const shape = z.array(count);
const paramsArrays = z.record(z.string(), z.object({ shape, values: z.array(anyNumber) }));

/** One progress event: one line of the history file. Unknown fields pass (newer events). */
export const EVENT_SCHEMA = z.looseObject({
  iteration: count,
  loss: anyNumber,
  gradNorm: anyNumber,
  bound: anyNumber,
  eps: anyNumber,
  delta: anyNumber,
  step: anyNumber,
  accepted: z.boolean(),
  work: anyNumber,
  evaluations: anyNumber,
  timeMs: anyNumber,
  converged: z.optional(z.boolean()),
  status: z.optional(z.string()),
  unconverged: z.optional(anyNumber),
});

/** The first line of a history file: which run it belongs to. */
export const HISTORY_HEADER_SCHEMA = z.object({ format: z.literal('bilevel-outer-history'), run: z.string() });

/** The state file (everything but the history, which is appended to its own file). */
export const STATE_SCHEMA = z.object({
  format: z.literal('bilevel-outer-checkpoint'),
  version: z.literal(2),
  run: z.string(),
  method: z.string(),
  iterations: count,
  state: z.looseObject({ theta: paramsArrays }),
  work: z.record(z.string(), anyNumber),
  oracleState: z.optional(z.unknown()),
  elapsedMs: anyNumber,
  fingerprint: z.record(z.string(), z.unknown()),
  finished: z.optional(z.object({ status: z.string(), message: z.string() })),
  history: z.object({ key: z.string(), events: count }),
});

function typeOf(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 30 ? `${v.slice(0, 27)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `a ${typeof v}`;
}

function at(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path) v = v != null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('') || '(top level)';
}

/**
 * Validates `value` against `schema`; on failure throws `${where}: ${label} is not ${kind}:
 * field 'a.b': expected …, got …` for the first (up to three) problems.
 */
export function validate<T>(schema: z.ZodMiniType<T>, value: unknown, where: string, label: string, kind: string): T {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 3).map((issue) => {
    const found = at(value, issue.path);
    const raw = issue as unknown as { code: string; expected?: string; values?: unknown[]; keys?: string[]; minimum?: unknown; message?: string };
    const expected =
      raw.code === 'invalid_type' ? `expected ${raw.expected === 'int' ? 'an integer' : `a ${raw.expected}`}` :
      raw.code === 'invalid_value' ? `expected ${raw.values?.map((v) => JSON.stringify(v)).join(' or ')}` :
      raw.code === 'too_small' ? `expected at least ${String(raw.minimum)}` :
      raw.code === 'unrecognized_keys' ? `unexpected key(s) ${raw.keys?.join(', ')}` :
      raw.message && raw.message !== 'Invalid input' ? raw.message : 'not valid';
    return `field '${dotted(issue.path)}': ${expected}, got ${typeOf(found)}`;
  });
  throw new Error(`${where}: ${label} is not ${kind}: ${problems.join('; ')}.`);
}
