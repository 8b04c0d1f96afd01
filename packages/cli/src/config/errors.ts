/**
 * Turns zod's issues into messages that name the field's path, the value given and what
 * is allowed, with a "did you mean" for misspelt fields.
 *
 * @packageDocumentation
 */
import type { z } from 'zod';
import { suggest } from '../flags.js';

type Issue = z.core.$ZodIssue & { input?: unknown };

/** `a.b[2].c` from a path. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(the config)' : out;
}

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s == null ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v);

/** The sub-schema at `path` (following discriminated unions by the config's own `kind`s), for the allowed keys. */
function schemaAt(schema: z.ZodType, data: unknown, path: ReadonlyArray<PropertyKey>): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  let d: unknown = data;
  const unwrap = (t: z.ZodType): z.ZodType => {
    const def = (t as unknown as { def: { type: string; innerType?: z.ZodType; options?: z.ZodType[]; discriminator?: string; in?: z.ZodType } }).def;
    if (def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') return unwrap(def.innerType!);
    if (def.type === 'pipe' && def.in != null) return unwrap(def.in);
    if (def.type === 'union' && def.options != null) {
      const kind = (d as { kind?: unknown } | null)?.kind;
      const objects = def.options.map(unwrap).filter((o) => (o as unknown as { def: { type: string } }).def.type === 'object');
      const match = objects.find((o) => ((o as unknown as { shape: Record<string, { value?: unknown }> }).shape.kind as { value?: unknown } | undefined)?.value === kind);
      return match ?? objects[0] ?? t;
    }
    return t;
  };
  s = unwrap(s);
  for (const key of path) {
    const shape = (s as unknown as { shape?: Record<string, z.ZodType> }).shape;
    if (shape == null || typeof key !== 'string' || shape[key] == null) return undefined;
    d = (d as Record<string, unknown> | undefined)?.[key];
    s = unwrap(shape[key]);
  }
  return s;
}

/** What one issue says, as `path: got value; allowed`. */
function describeIssue(issue: Issue, schema: z.ZodType, data: unknown): string {
  const path = fieldPath(issue.path);
  const got = `got ${show(issue.input)}`;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const shape = (schemaAt(schema, data, issue.path) as unknown as { shape?: Record<string, unknown> } | undefined)?.shape;
      const allowed = shape != null ? Object.keys(shape) : [];
      return issue.keys
        .map((k) => `${fieldPath([...issue.path, k])}: unknown field${suggest(k, allowed)}; allowed here: ${allowed.join(', ')}`)
        .join('\n');
    }
    case 'invalid_type':
      if (issue.input === undefined) return `${path}: is required (${issue.expected})`;
      return `${path}: got ${show(issue.input)} (${kindOf(issue.input)}); must be ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}`;
    case 'invalid_value':
      return `${path}: ${got}; must be one of ${issue.values.map((v) => show(v)).join(', ')}`;
    case 'invalid_union': {
      const u = issue as Issue & { discriminator?: string; options?: unknown[] };
      if (u.discriminator != null) {
        const value = (issue.input as Record<string, unknown> | undefined)?.[u.discriminator];
        return `${path}: got ${show(value)}; must be one of ${(u.options ?? []).map((v) => show(v)).join(', ')}`;
      }
      return `${path}: ${got}; ${issue.message}`;
    }
    case 'too_small': {
      const what = issue.origin === 'array' ? `at least ${String(issue.minimum)} item(s)` : issue.origin === 'string' ? 'not empty' : `${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}`;
      return `${path}: ${got}; must be ${what}`;
    }
    case 'too_big': {
      const what = issue.origin === 'array' ? `at most ${String(issue.maximum)} items` : `${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}`;
      return `${path}: ${got}; must be ${what}`;
    }
    default:
      return `${path}: ${got}; ${issue.message}`;
  }
}

/**
 * One line per problem found by the schema: the field's path, the value and what is allowed.
 *
 * @param error - zod's error from `safeParse(data, { reportInput: true })`.
 * @param schema - the schema checked (for the allowed keys of unknown fields).
 * @param data - the config as read.
 * @returns the lines.
 */
export function describeIssues(error: z.ZodError, schema: z.ZodType, data: unknown): string[] {
  return error.issues.map((i) => describeIssue(i as Issue, schema, data));
}
