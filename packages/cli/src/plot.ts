/**
 * Plots as SVG files without a browser: a vega-lite spec compiled to vega and rendered
 * headless (`renderer: 'none'`), with the spec written next to the SVG (`.vl.json`) so a
 * figure can be restyled in the vega editor. vega is loaded on first use only, so importing
 * this package (or `require`-ing its CommonJS build) does not load it.
 *
 * @packageDocumentation
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One point of a loss-versus-work curve. */
export interface CurvePoint {
  /** Curve name (the legend). */
  series: string;
  /** Computational work: inner + linear iterations. */
  work: number;
  /** Upper-level loss. */
  loss: number;
}

/**
 * Renders a vega-lite spec to an SVG file and writes the spec next to it (`.vl.json`).
 *
 * @param path - the `.svg` file.
 * @param spec - a vega-lite specification (data inlined).
 * @returns once both files are written.
 * @example
 * ```ts
 * await renderVegaLite('out/plot.svg', { data: { values: [{ a: 1, b: 2 }] }, mark: 'point', encoding: { x: { field: 'a' }, y: { field: 'b' } } });
 * ```
 */
export async function renderVegaLite(path: string, spec: Record<string, unknown>): Promise<void> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec as never).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, svg);
  writeFileSync(path.replace(/\.svg$/, '') + '.vl.json', JSON.stringify(spec, null, 2));
}

/**
 * Renders a loss-versus-work plot (one line per series; work = inner + linear iterations,
 * the papers' unit) to `path` (.svg), and writes the vega-lite spec next to it (.vl.json).
 *
 * @param path - the `.svg` file.
 * @param points - the curves' points.
 * @param title - the plot title.
 * @param logY - logarithmic loss axis (default true).
 * @returns once written.
 * @example
 * ```ts
 * await plotLossVersusWork('out/loss-vs-work.svg', history.map((e) => ({ series: 'MAID', work: e.work, loss: e.loss })), 'TV denoising');
 * ```
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
  await renderVegaLite(path, spec);
}

/** One iteration of a training run, for {@link plotTraining}. */
export interface TrainingPoint {
  /** 1-based iteration. */
  iteration: number;
  /** Cumulative work (inner + linear iterations). */
  work: number;
  /** Upper-level loss. */
  loss: number;
  /** PSNR in dB (training crops, from the loss; or held-out, when evaluated). */
  psnr: number;
}

/**
 * Two panels side by side: the upper-level loss versus work (log scale) and PSNR versus
 * iteration, written as SVG (+ its vega-lite spec).
 *
 * @param path - the `.svg` file.
 * @param points - one point per iteration.
 * @param title - the figure title.
 * @param psnrTitle - the PSNR axis title (say which PSNR it is).
 * @returns once written.
 * @example
 * ```ts
 * await plotTraining('run/training.svg', points, 'TV denoising, MAID', 'training PSNR (dB)');
 * ```
 */
export async function plotTraining(path: string, points: TrainingPoint[], title: string, psnrTitle = 'PSNR (dB)'): Promise<void> {
  const point = points.length < 200;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points },
    hconcat: [
      {
        width: 320,
        height: 240,
        mark: { type: 'line', point },
        encoding: {
          x: { field: 'work', type: 'quantitative', title: 'computational work (inner + linear iterations)' },
          y: { field: 'loss', type: 'quantitative', title: 'upper-level loss', scale: { type: 'log' } },
        },
      },
      {
        width: 320,
        height: 240,
        mark: { type: 'line', point, color: '#e45756' },
        encoding: {
          x: { field: 'iteration', type: 'quantitative', title: 'iteration' },
          y: { field: 'psnr', type: 'quantitative', title: psnrTitle, scale: { zero: false } },
        },
      },
    ],
  };
  await renderVegaLite(path, spec);
}
