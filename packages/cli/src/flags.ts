/**
 * Command-line flags: `--name value` and `--name=value` (a value may start with a dash, so
 * `--crop -3` reads -3), `--flag` / `--no-flag` for booleans, `--` ends the flags. Unknown
 * flags and values of the wrong kind are {@link UsageError}s that name the flag, the value
 * and what is allowed.
 *
 * @packageDocumentation
 */
import { UsageError, EXIT_USAGE } from './errors.js';

/** How one flag is read. */
export interface FlagSpec {
  /** `'number'` values are parsed and must be finite; `'boolean'` flags take no value. */
  type: 'string' | 'number' | 'boolean';
  /** One line for `--help`. */
  description?: string;
  /** Default, shown by `--help` (parsing does not fill it in). */
  default?: string | number | boolean;
  /** A one-letter alias (`-h`). */
  short?: string;
}

/** What {@link parseArgv} returns. */
export interface ParsedArgv {
  /** Flag values by name (only the flags given). */
  values: Record<string, string | number | boolean>;
  /** Arguments that are not flags, in order. */
  positionals: string[];
}

/** Edit distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/**
 * The closest of `names` to `name` (edit distance ≤ 2 or a prefix), for error messages.
 *
 * @param name - what was typed.
 * @param names - what is allowed.
 * @returns `" (did you mean 'x'?)"` or `''`.
 * @example
 * ```ts
 * suggest('iteratons', ['iterations', 'crop']);   // " (did you mean 'iterations'?)"
 * ```
 */
export function suggest(name: string, names: readonly string[]): string {
  let best: { name: string; d: number } | undefined;
  for (const n of names) {
    const d = n.startsWith(name) || name.startsWith(n) ? 1 : distance(name.toLowerCase(), n.toLowerCase());
    if (d <= 2 && (best == null || d < best.d)) best = { name: n, d };
  }
  return best != null ? ` (did you mean '${best.name}'?)` : '';
}

function readValue(where: string, name: string, spec: FlagSpec, raw: string): string | number | boolean {
  if (spec.type === 'number') {
    const n = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(n)) throw new UsageError(`${where}: flag --${name} must be a number, got '${raw}'.`);
    return n;
  }
  if (spec.type === 'boolean') {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new UsageError(`${where}: flag --${name} is on or off (--${name} or --no-${name}), got '${raw}'.`);
  }
  return raw;
}

/**
 * Reads flags and positional arguments.
 *
 * @param argv - the arguments (without `node` and the script).
 * @param flags - the flags allowed, by name.
 * @param where - the command, for messages (`'bilevel train'`).
 * @returns `{ values, positionals }`.
 * @throws {@link UsageError} for an unknown flag, a missing value or a value of the wrong kind.
 * @example
 * ```ts
 * parseArgv(['run.yaml', '--crop', '-3'], { crop: { type: 'number' } }, 'bilevel train');
 * // { values: { crop: -3 }, positionals: ['run.yaml'] }
 * ```
 */
export function parseArgv(argv: readonly string[], flags: Record<string, FlagSpec>, where: string): ParsedArgv {
  const values: Record<string, string | number | boolean> = {};
  const positionals: string[] = [];
  const names = Object.keys(flags);
  const byShort = new Map(Object.entries(flags).filter(([, s]) => s.short != null).map(([n, s]) => [s.short!, n]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      const long = byShort.get(arg.slice(1));
      if (long == null) throw new UsageError(`${where}: unknown flag ${arg}; the flags are ${names.map((n) => `--${n}`).join(', ')}.`);
      name = long;
    } else {
      positionals.push(arg);
      continue;
    }
    let spec = flags[name];
    if (spec == null && name.startsWith('no-') && flags[name.slice(3)]?.type === 'boolean' && inline == null) {
      values[name.slice(3)] = false;
      continue;
    }
    if (spec == null) {
      throw new UsageError(`${where}: unknown flag --${name}${suggest(name, names)}; the flags are ${names.map((n) => `--${n}`).join(', ')} (see --help).`);
    }
    if (spec.type === 'boolean' && inline == null) {
      values[name] = true;
      continue;
    }
    if (inline == null) {
      // The next argument is the value, whatever it looks like: `--crop -3` is -3.
      if (i + 1 >= argv.length) throw new UsageError(`${where}: flag --${name} needs a ${spec.type} value (--${name} <${spec.type}>).`);
      inline = argv[++i];
    }
    spec = flags[name];
    values[name] = readValue(where, name, spec, inline);
  }
  return { values, positionals };
}

/**
 * The `--help` text of a set of flags: one line each, with its default.
 *
 * @param flags - the flags, by name.
 * @returns the lines, indented by two spaces.
 * @example
 * ```ts
 * console.log(flagsHelp({ crop: { type: 'number', default: 64, description: 'crop side' } }));
 * // "  --crop <number>   crop side (default 64)"
 * ```
 */
export function flagsHelp(flags: Record<string, FlagSpec>): string {
  const left = Object.entries(flags).map(([n, s]) => `${s.short != null ? `-${s.short}, ` : ''}--${n}${s.type === 'boolean' ? '' : ` <${s.type}>`}`);
  const width = Math.max(0, ...left.map((l) => l.length)) + 3;
  return Object.values(flags)
    .map((s, i) => `  ${left[i].padEnd(width)}${s.description ?? ''}${s.default !== undefined && s.default !== '' ? ` (default ${String(s.default)})` : ''}`)
    .join('\n');
}

/**
 * What {@link parseFlags} returns for `defaults` of type `T`: each flag typed by its kind, not by its default's
 * literal (the constraint keeps `false`, `0`, `'maid'` literal in `T`; the command line can give any value).
 */
export type FlagValues<T extends Record<string, string | number | boolean>> = {
  [K in keyof T]: T[K] extends boolean ? boolean : T[K] extends number ? number : T[K] extends string ? string : T[K];
};

/**
 * Flags of an example script: the defaults give each flag's name and kind (numbers, strings,
 * booleans); returns the defaults overridden by `argv`. `--help` prints the flags and exits
 * 0; a bad flag prints one line and exits 2 (no stack trace).
 *
 * @param defaults - every flag with its default value.
 * @param argv - the arguments (default `process.argv.slice(2)`).
 * @param name - the script's name for messages (default `'flags'`).
 * @returns the flag values, typed like `defaults` widened to each flag's kind (`compare: false` gives a `boolean`).
 * @example
 * ```ts
 * const flags = parseFlags({ crop: 64, method: 'maid', compare: false });
 * // node main.js --crop -3 --compare   →  { crop: -3, method: 'maid', compare: true }
 * // node main.js -- --crop -3          →  the same (`pnpm start -- --crop -3` forwards the `--`)
 * ```
 */
export function parseFlags<T extends Record<string, string | number | boolean>>(defaults: T, argv: readonly string[] = process.argv.slice(2), name = 'flags'): FlagValues<T> {
  const specs: Record<string, FlagSpec> = { help: { type: 'boolean', short: 'h', description: 'print the flags and exit' } };
  for (const [k, v] of Object.entries(defaults)) specs[k] = { type: typeof v as FlagSpec['type'], default: v };
  try {
    // `pnpm start -- --crop 32` (and npm's `run start -- …`) forward the `--` itself: an example
    // takes no positionals, so a leading `--` only separates the package manager's arguments.
    const args = argv[0] === '--' ? argv.slice(1) : argv;
    const { values, positionals } = parseArgv(args, specs, name);
    if (values.help === true) {
      console.log(`${name} flags:\n${flagsHelp(specs)}`);
      process.exit(0);
    }
    if (positionals.length > 0) throw new UsageError(`${name}: unexpected argument '${positionals[0]}'; every setting is a flag (--name value, see --help).`);
    return { ...defaults, ...values } as FlagValues<T>;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(e.message);
    process.exit(EXIT_USAGE);
  }
}
