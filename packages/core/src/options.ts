/**
 * One option mechanism for every public function and factory of bilevel: a schema lists
 * each option with its kind, {@link checkOptions} rejects unknown keys with the nearest
 * valid one ("did you mean 'maxIter'?"), checks kinds and ranges with a message that names
 * the function, the option and the fix, and maps deprecated spellings to their new name
 * with a one-time warning. The precedence rule between per-call accuracies, strategy
 * options and solver options lives here too ({@link resolveAccuracy}).
 *
 * A hand-written schema rather than zod: zod's unknown-key error has no suggestion, and
 * measured with esbuild 0.28 (minified, gzip -9) a five-option strict schema costs
 * 21.5 kB / 7.2 kB with `zod/mini` 4.6.7 and 454 kB / 92 kB with classic `zod`, where this
 * mechanism costs 4.7 kB / 1.9 kB (see packages/core/README.md, "Options").
 *
 * @packageDocumentation
 */
import { tf } from './tf.js';
import { closestName } from './internal/edit-distance.js';
import { describeRange, type Range, inRange } from './internal/option-range.js';

/** One option of a schema: what it accepts (`describe`), how to check it, and the fix. */
export interface OptionSpec {
  /** The kind, for tables and docs: 'number', 'integer', 'boolean', 'enum', 'function', 'tensor', 'object', 'any', 'union', 'renamed', 'removed'. */
  readonly kind: string;
  /** What the option accepts, as it reads in an error ("a finite number > 0"). */
  readonly describe: string;
  /** How to fix a wrong value; appended to the error. */
  readonly fix?: string;
  /** For nested objects: the schema of the object's own keys. */
  readonly schema?: OptionSchema;
  /** For deprecated spellings: the current name. */
  readonly renamedTo?: string;
  /** For old names that are no longer accepted: the name to use instead (an error says so). */
  readonly replacedBy?: string;
  /** Whether `value` is acceptable (kind and range; nested keys are checked by {@link checkOptions}). */
  accepts(value: unknown): boolean;
}

/** The options of one function: option name → spec. */
export type OptionSchema = Readonly<Record<string, OptionSpec>>;

function spec(kind: string, describe: string, accepts: (v: unknown) => boolean, fix?: string): OptionSpec {
  return { kind, describe, accepts, fix };
}

/**
 * Builders for {@link OptionSpec}s. Every builder takes an optional `fix`, the sentence
 * appended to the error when the value is wrong.
 *
 * @example
 * ```ts
 * const schema = { tol: opt.number({ min: 0 }), maxIter: opt.integer({ min: 1 }), mode: opt.oneOf(['a', 'b']) };
 * checkOptions('mySolver', { tol: 1e-4 }, schema);
 * ```
 */
export const opt = {
  /** A number in a range (finite unless `finite: false`). */
  number(range: Range = {}, fix?: string): OptionSpec {
    const bounded = (range.min ?? range.gt) !== undefined && (range.max ?? range.lt) !== undefined;
    const finite = range.finite === false || bounded ? '' : 'finite ';
    return spec('number', `a ${finite}number${describeRange(range)}`, (v) => typeof v === 'number' && inRange(v, range), fix);
  },
  /** An integer in a range. */
  integer(range: Range = {}, fix?: string): OptionSpec {
    const text = range.min === 1 && range.max === undefined ? 'a positive integer' : `an integer${describeRange(range)}`;
    return spec('integer', text, (v) => typeof v === 'number' && Number.isInteger(v) && inRange(v, range), fix);
  },
  /** `true` or `false`. */
  boolean(fix?: string): OptionSpec {
    return spec('boolean', 'true or false', (v) => typeof v === 'boolean', fix);
  },
  /** One of a fixed list of values (usually strings). */
  oneOf(values: readonly unknown[], fix?: string): OptionSpec {
    const shown = values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v)));
    const text = shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
    return spec('enum', text, (v) => values.includes(v), fix);
  },
  /** A function. */
  func(fix?: string): OptionSpec {
    return spec('function', 'a function', (v) => typeof v === 'function', fix);
  },
  /** A tf.Tensor that has not been disposed. */
  tensor(fix?: string): OptionSpec {
    return spec('tensor', 'a tf.Tensor (not disposed)', (v) => v instanceof tf.Tensor && !v.isDisposed, fix);
  },
  /** A string. */
  string(fix?: string): OptionSpec {
    return spec('string', 'a string', (v) => typeof v === 'string', fix);
  },
  /** A plain object whose own keys follow `schema` (checked recursively, unknown keys rejected). */
  object(schema: OptionSchema, fix?: string): OptionSpec {
    return { kind: 'object', describe: 'an object', schema, fix, accepts: (v) => isPlainObject(v) };
  },
  /** A value of the caller's own kind, checked by `accepts` and described by `describe`. */
  custom(describe: string, accepts: (v: unknown) => boolean, fix?: string): OptionSpec {
    return spec('custom', describe, accepts, fix);
  },
  /** Any of several specs (e.g. a number or a schedule function). */
  union(specs: readonly OptionSpec[], fix?: string): OptionSpec {
    const objects = specs.filter((s) => s.schema !== undefined);
    return {
      kind: 'union',
      describe: specs.map((s) => s.describe).join(' or '),
      fix,
      schema: objects.length === 1 ? objects[0].schema : undefined,
      accepts: (v) => specs.some((s) => s.accepts(v)),
    };
  },
  /** `spec`, or `null` (which then means "not given" to the function). */
  nullable(inner: OptionSpec): OptionSpec {
    return { ...inner, describe: `${inner.describe} (or null)`, accepts: (v) => v === null || inner.accepts(v) };
  },
  /** Anything (documented but not checked). */
  any(): OptionSpec {
    return spec('any', 'any value', () => true);
  },
  /** A deprecated spelling of `to`: still accepted for one release, with a one-time warning. */
  renamed(to: string): OptionSpec {
    return { kind: 'renamed', describe: `the old name of '${to}'`, renamedTo: to, accepts: () => true };
  },
  /**
   * An old name that is no longer accepted: passing it throws an error that names `to`
   * (the unified name), instead of a plain "unknown option" whose nearest match may not be it.
   */
  removed(to: string): OptionSpec {
    return { kind: 'removed', describe: `the old name of '${to}'`, replacedBy: to, accepts: () => false };
  },
} as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof tf.Tensor) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function show(v: unknown): string {
  if (v instanceof tf.Tensor) return v.isDisposed ? 'a disposed tensor' : `a tensor of shape [${v.shape}]`;
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

const warned = new Set<string>();

/** Forgets which deprecation warnings were already printed (for tests). */
export function resetOptionWarnings(): void {
  warned.clear();
}

/**
 * Validates `given` against `schema` and returns a shallow copy with deprecated spellings
 * renamed; `given` itself is not modified. `undefined` values count as not given.
 *
 * Errors name the function (`where`), the option (with its path for nested objects, e.g.
 * `checkpoint.every`) and the fix:
 * - unknown key: `implicit: unknown option 'maxIters'; did you mean 'maxIter'? The options are inner, linear, ….`
 * - wrong kind or range: `cg: option 'tol' must be a finite number ≥ 0, got -1.`
 * - old and new spelling together: `unrolled: options 'k' and 'steps' are the same option ('k' is deprecated); pass only 'steps'.`
 *
 * @param where - the public function's name, for messages.
 * @param given - the caller's options (`undefined` or `null` means none).
 * @param schema - option name → {@link OptionSpec}.
 * @returns the options, with renamed keys under their current names.
 * @example
 * ```ts
 * const schema = { tol: opt.number({ min: 0 }), maxIter: opt.integer({ min: 1 }) };
 * checkOptions('cg', { maxIters: 10 }, schema);
 * // throws "cg: unknown option 'maxIters'; did you mean 'maxIter'? The options are tol, maxIter."
 * ```
 */
export function checkOptions<T extends object>(where: string, given: T | undefined | null, schema: OptionSchema, path = ''): T {
  if (given == null) return {} as T;
  if (!isPlainObject(given)) throw new Error(`${where}: ${path === '' ? 'options' : `option '${path.slice(0, -1)}'`} must be a plain object, got ${show(given)}.`);
  const out: Record<string, unknown> = {};
  const current = Object.keys(schema).filter((k) => schema[k].renamedTo === undefined && schema[k].replacedBy === undefined);
  for (const key of Object.keys(given)) {
    const value = (given as Record<string, unknown>)[key];
    const s = Object.prototype.hasOwnProperty.call(schema, key) ? schema[key] : undefined;
    if (s === undefined) {
      const near = closestName(key, Object.keys(schema));
      const target = near !== undefined ? schema[near].renamedTo ?? schema[near].replacedBy ?? near : undefined;
      const hint = target !== undefined ? ` did you mean '${path}${target}'?` : '';
      throw new Error(`${where}: unknown option '${path}${key}';${hint} The options are ${current.map((k) => path + k).join(', ')}.`);
    }
    if (value === undefined) continue;
    if (s.replacedBy !== undefined) {
      throw new Error(`${where}: option '${path}${key}' was renamed '${path}${s.replacedBy}' (one name across bilevel's strategies); pass '${path}${s.replacedBy}' instead.`);
    }
    let name = key;
    if (s.renamedTo !== undefined) {
      name = s.renamedTo;
      if ((given as Record<string, unknown>)[name] !== undefined) {
        throw new Error(`${where}: options '${path}${key}' and '${path}${name}' are the same option ('${key}' is deprecated); pass only '${path}${name}'.`);
      }
      const note = `${where}: option '${path}${key}' is deprecated and will be removed in the next release; use '${path}${name}'.`;
      if (!warned.has(note)) {
        warned.add(note);
        console.warn(note);
      }
    }
    const target = schema[name] ?? s;
    if (!target.accepts(value)) {
      throw new Error(`${where}: option '${path}${name}' must be ${target.describe}, got ${show(value)}${target.fix ? `; ${target.fix}` : ''}.`);
    }
    out[name] = target.schema !== undefined && isPlainObject(value) ? checkOptions(where, value, target.schema, `${path}${name}.`) : value;
  }
  return out as T;
}

/** A function's option schema bound to its name: `check` validates, `withDefaults` also fills defaults. */
export interface OptionSet<T extends object> {
  /** The function's name, for messages. */
  readonly where: string;
  /** Option name → spec. */
  readonly schema: OptionSchema;
  /** The current (non-deprecated) option names. */
  readonly keys: readonly string[];
  /** {@link checkOptions} with this set's name and schema. */
  check(given: T | undefined | null): T;
  /** Checks `given`, then returns `{ ...defaults, ...given }` (undefined values do not override). */
  withDefaults<D extends Partial<T>>(given: T | undefined | null, defaults: D): T & D;
}

const registry = new WeakMap<object, OptionSet<object>>();

/**
 * Binds a schema to a function name once, so a factory validates with one call; with
 * `owner`, registers the schema on that function so tools (and the options enumeration
 * test) can list a function's options with {@link optionsOf}.
 *
 * @param where - the public function's name.
 * @param schema - option name → {@link OptionSpec}.
 * @param owner - the public function the schema belongs to (optional).
 * @returns an {@link OptionSet}.
 * @example
 * ```ts
 * const CG_OPTIONS = defineOptions('cg', { tol: opt.number({ min: 0 }), maxIter: opt.integer({ min: 0 }) });
 * export function cg(options: CgOptions = {}) { const o = CG_OPTIONS.withDefaults(options, CG_DEFAULTS); ... }
 * ```
 */
export function defineOptions<T extends object>(where: string, schema: OptionSchema, owner?: object): OptionSet<T> {
  const set: OptionSet<T> = {
    where,
    schema,
    keys: Object.keys(schema).filter((k) => schema[k].renamedTo === undefined),
    check: (given) => checkOptions(where, given, schema),
    withDefaults<D extends Partial<T>>(given: T | undefined | null, defaults: D): T & D {
      return { ...defaults, ...checkOptions(where, given, schema) } as T & D;
    },
  };
  if (owner !== undefined) registry.set(owner, set as OptionSet<object>);
  return set;
}

/**
 * The option set registered for a public function by {@link defineOptions} (or
 * {@link registerOptions}), or `undefined`.
 *
 * @param fn - a public function or factory.
 * @returns its {@link OptionSet}, if it registered one.
 * @example
 * ```ts
 * optionsOf(cg)?.keys; // ['tol', 'maxIter', ...]
 * ```
 */
export function optionsOf(fn: object): OptionSet<object> | undefined {
  return registry.get(fn);
}

/**
 * Registers an existing {@link OptionSet} on a public function (when the set is defined
 * before the function, e.g. shared by several factories).
 *
 * @param fn - the public function.
 * @param set - its option set.
 * @returns `fn`.
 * @example
 * ```ts
 * registerOptions(accelerated, ACCELERATED_OPTIONS);
 * ```
 */
export function registerOptions<F extends object>(fn: F, set: OptionSet<object>): F {
  registry.set(fn, set);
  return fn;
}

export { explicitOptions, recordExplicit, resolveAccuracy } from './internal/precedence.js';
export type { AccuracySources } from './internal/precedence.js';
