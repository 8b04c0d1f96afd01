/**
 * A progress reporter for `train({ onProgress })`: a bar on a terminal (iteration, loss,
 * ε and δ, step, work, ETA), one plain line every few iterations otherwise (CI logs, pipes).
 *
 * @packageDocumentation
 */
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '@bilevel/outer';
import { checkOptions, opt } from '@bilevel/core';

/** Options of {@link progressReporter}. */
export interface ProgressOptions {
  /** Plain lines: one every `every` iterations, and the last one (default 10). */
  every?: number;
  /** Where to write (default `process.stdout`; the CLI's `--json` mode uses stderr). */
  stream?: NodeJS.WriteStream;
  /** Bar or plain lines; default: a bar when `stream` is a terminal. */
  tty?: boolean;
  /** No output at all (the reporter still counts). */
  quiet?: boolean;
  /** Iterations already done (a resumed run): the bar starts there. */
  start?: number;
}

/** What {@link progressReporter} returns. */
export interface ProgressReporter {
  /** Pass to `train({ onProgress })`. */
  onProgress: (e: ProgressEvent) => void;
  /** Ends the bar (call once training returns). */
  stop: () => void;
}

const PROGRESS_SCHEMA = {
  every: opt.integer({ min: 1 }),
  stream: opt.custom('a writable stream (process.stdout, process.stderr)', (v) => typeof (v as { write?: unknown } | null)?.write === 'function'),
  tty: opt.boolean(),
  quiet: opt.boolean(),
  start: opt.integer({ min: 0 }),
};

const fmt = (v: number, digits: number, kind: 'exp' | 'fixed' = 'exp') => (Number.isFinite(v) ? (kind === 'exp' ? v.toExponential(digits) : v.toFixed(digits)) : '-');

/**
 * A progress reporter for `train`.
 *
 * @param total - iterations of the budget (the bar's length).
 * @param label - text in front of the bar or line.
 * @param options - `every` (plain lines, default 10), `stream`, `tty`, `quiet`, `start`; a number is `every`.
 * @returns `{ onProgress, stop }`.
 * @example
 * ```ts
 * const progress = progressReporter(30, 'MAID');
 * const result = await train({ ...options, onProgress: progress.onProgress });
 * progress.stop();
 * ```
 */
export function progressReporter(total: number, label: string, options: ProgressOptions | number = {}): ProgressReporter {
  const o = typeof options === 'number' ? { every: options } : checkOptions('progressReporter', options, PROGRESS_SCHEMA);
  const stream = o.stream ?? process.stdout;
  const every = o.every ?? 10;
  const tty = o.tty ?? stream.isTTY === true;
  const bar = tty && o.quiet !== true
    ? new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {value}/{total} | loss {loss} | ε {eps} δ {delta} | step {step} | work {work} | ETA {eta_formatted}`,
          hideCursor: true,
          stream,
          etaBuffer: 5,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(total, o.start ?? 0, { loss: '-', eps: '-', delta: '-', step: '-', work: 0 });
  return {
    onProgress(e) {
      if (o.quiet === true) return;
      const payload = { loss: fmt(e.loss, 4), eps: fmt(e.eps, 1), delta: fmt(e.delta, 1), step: fmt(e.step, 2), work: e.work };
      if (bar) bar.update(e.iteration + 1, payload);
      else if (e.iteration % every === 0 || e.iteration + 1 === total) {
        stream.write(`${label} ${String(e.iteration + 1).padStart(4)}${total > 0 ? `/${total}` : ''}  loss ${payload.loss}  ε ${payload.eps}  δ ${payload.delta}  step ${payload.step}  work ${e.work}\n`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
