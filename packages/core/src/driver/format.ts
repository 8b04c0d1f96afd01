/**
 * Formats a residual or tolerance for messages: `1.23e-4`, `NaN`, `Infinity`, `n/a`.
 *
 * @param value - the number (undefined prints `n/a`).
 * @returns the text.
 * @example
 * ```ts
 * formatNumber(0.000123); // '1.23e-4'
 * ```
 */
export function formatNumber(value: number | undefined): string {
  if (value == null) return 'n/a';
  return Number.isFinite(value) ? value.toExponential(2) : String(value);
}
