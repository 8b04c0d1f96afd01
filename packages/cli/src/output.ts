/**
 * Output files of a run: its folder, pretty JSON and Markdown tables.
 *
 * @packageDocumentation
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Creates (if needed) and returns the absolute path of the folder a run writes to.
 *
 * @param path - folder, absolute or relative to the working directory.
 * @returns its absolute path.
 * @example
 * ```ts
 * const out = outputFolder('out/tv-denoise');
 * ```
 */
export function outputFolder(path: string): string {
  const dir = resolve(path);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Writes `value` as pretty JSON (two-space indent, trailing newline), creating the folder.
 *
 * @param path - file path.
 * @param value - anything `JSON.stringify` takes.
 * @example
 * ```ts
 * writeJson('out/run/summary.json', { psnr: 28.1 });
 * ```
 */
export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * A Markdown table from rows with the same keys (numbers: integers as they are, others to
 * 4 significant digits).
 *
 * @param rows - one object per row; the first row's keys are the columns.
 * @returns the table, or `''` for no rows.
 * @example
 * ```ts
 * console.log(markdownTable([{ model: 'TV', psnr: 28.05 }]));
 * // | model | psnr |
 * // | --- | --- |
 * // | TV | 28.05 |
 * ```
 */
export function markdownTable(rows: Array<Record<string, string | number | boolean>>): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]);
  const cell = (v: string | number | boolean) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));
  const lines = [`| ${keys.join(' | ')} |`, `| ${keys.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${keys.map((k) => cell(r[k])).join(' | ')} |`);
  return lines.join('\n');
}

/**
 * Path of a file inside an output folder.
 *
 * @param dir - the folder.
 * @param name - the file name.
 * @returns `dir/name`.
 * @example
 * ```ts
 * writeJson(inFolder(out, 'summary.json'), summary);
 * ```
 */
export const inFolder = (dir: string, name: string): string => join(dir, name);
