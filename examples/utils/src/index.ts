/**
 * Shared plumbing of the bilevel examples: command-line flags, an output folder, a
 * progress bar fed by `train`'s progress events, loss-versus-work plots (vega-lite rendered
 * to SVG without a browser), JSON summaries and Markdown tables.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { ProgressEvent } from '@bilevel/outer';

/**
 * Flags of an example: `--name value` (numbers parsed; `--name=-3` for negative values),
 * `--flag` / `--no-flag` for booleans.
 */
export function parseFlags<T extends Record<string, string | number | boolean>>(defaults: T, argv = process.argv.slice(2)): T {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [k, v] of Object.entries(defaults)) options[k] = { type: typeof v === 'boolean' ? 'boolean' : 'string' };
  const negated: string[] = [];
  const args = argv.filter((a) => {
    const m = /^--no-(.+)$/.exec(a);
    if (a === '--') return false;
    if (m != null && typeof defaults[m[1]] === 'boolean') {
      negated.push(m[1]);
      return false;
    }
    return true;
  });
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  const out: Record<string, string | number | boolean> = { ...defaults };
  for (const k of negated) out[k] = false;
  for (const [k, v] of Object.entries(values)) {
    const d = defaults[k];
    if (typeof d === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`flag --${k} must be a number, got '${String(v)}'`);
      out[k] = n;
    } else out[k] = v as string | boolean;
  }
  return out as T;
}

/** Creates (if needed) and returns the folder an example writes to. */
export function outputFolder(path: string): string {
  const dir = resolve(path);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes pretty JSON, creating the folder. */
export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}

/**
 * A progress reporter for `train({ onProgress })`: a bar with loss, ε, step and work on a
 * terminal, and one line every `every` iterations otherwise (CI logs, pipes).
 */
export function progressReporter(total: number, label: string, every = 10): { onProgress: (e: ProgressEvent) => void; stop: () => void } {
  const tty = process.stdout.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: `${label} [{bar}] {value}/{total} | loss {loss} | ε {eps} | step {step} | work {work}`, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(total, 0, { loss: '-', eps: '-', step: '-', work: 0 });
  return {
    onProgress(e) {
      const payload = { loss: e.loss.toExponential(4), eps: e.eps.toExponential(1), step: e.step.toExponential(2), work: e.work };
      if (bar) bar.update(e.iteration + 1, payload);
      else if (e.iteration % every === 0 || e.iteration + 1 === total) {
        console.log(`${label} ${String(e.iteration + 1).padStart(4)}/${total}  loss ${payload.loss}  ε ${payload.eps}  step ${payload.step}  work ${e.work}`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

/** One point of a loss-versus-work curve. */
export interface CurvePoint {
  series: string;
  work: number;
  loss: number;
}

/**
 * Renders a loss-versus-work plot (vega-lite → vega → SVG, no browser) to `path` (.svg),
 * and writes the vega-lite spec next to it (.vl.json) so it can be restyled.
 */
export async function plotLossVersusWork(path: string, points: CurvePoint[], title: string, logY = true): Promise<void> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 480,
    height: 300,
    data: { values: points },
    mark: { type: 'line', point: points.length < 200 },
    encoding: {
      x: { field: 'work', type: 'quantitative', title: 'computational work (inner + linear iterations)' },
      y: { field: 'loss', type: 'quantitative', title: 'upper-level loss', scale: logY ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, svg);
  writeFileSync(path.replace(/\.svg$/, '') + '.vl.json', JSON.stringify(spec, null, 2));
}

/** A Markdown table from rows of equal keys. */
export function markdownTable(rows: Array<Record<string, string | number | boolean>>): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]);
  const cell = (v: string | number | boolean) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));
  const lines = [`| ${keys.join(' | ')} |`, `| ${keys.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${keys.map((k) => cell(r[k])).join(' | ')} |`);
  return lines.join('\n');
}

/** Path inside an output folder. */
export const inFolder = (dir: string, name: string): string => join(dir, name);
