// JSON that keeps every float: NaN, ±Infinity and −0 (which JSON turns into null / 0) are
// written as the strings 'NaN', 'Infinity', '-Infinity', '-0' and read back as numbers, so a
// resumed run's history and state equal the uninterrupted run's bit for bit.
const SPECIAL = new Map<string, number>([['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity], ['-0', -0]]);

function replacer(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  if (Object.is(value, -0)) return '-0';
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  return typeof value === 'string' && SPECIAL.has(value) ? SPECIAL.get(value) : value;
}

/** JSON text of `value` with non-finite numbers and −0 kept. */
export function stringifyExact(value: unknown): string {
  return JSON.stringify(value, replacer);
}

/** Parses {@link stringifyExact}'s text (throws JSON's SyntaxError on bad text). */
export function parseExact(text: string): unknown {
  return JSON.parse(text, reviver);
}
