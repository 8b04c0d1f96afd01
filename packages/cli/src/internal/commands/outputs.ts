/**
 * What `bilevel train` writes after training: held-out reconstructions at θ₀ and at the
 * learned θ with PSNR / SSIM, PNGs (clean / degraded / reconstructed, learned filters), the
 * plot (loss vs work, training PSNR vs iteration), the learned θ and a JSON summary.
 */
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { tf, paramsToArrays, workUnits } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import type { BoundConstants, MethodStateBase, TrainResult } from '@bilevel/outer';
import { psnr, ssim } from '@bilevel/imaging';
import { saveImage } from '@bilevel/imaging/node';
import type { TrainConfig } from '../../config/schema.js';
import { writeJson, markdownTable } from '../../output.js';
import { plotTraining } from '../../plot.js';
import { filterMosaic } from '../../filters.js';
import { reconstruct, psnrOfLoss, type Setup } from '../build/setup.js';
import type { PairData } from '../build/constants.js';
import { saveOne } from '../build/images.js';
import { say } from '../io.js';

/** Mean PSNR / SSIM over a batch, and per image. */
export interface Scores {
  psnr: number;
  ssim: number;
  psnrPerImage: number[];
}

/** Scores of `x` (clipped to [0, 1]) against the clean batch. */
export function scores(x: tf.Tensor, clean: tf.Tensor): Scores {
  const clipped = tf.clipByValue(x, 0, 1);
  const p = psnr(clipped, clean);
  const s = ssim(clipped, clean);
  clipped.dispose();
  return { psnr: p.mean, ssim: s.mean, psnrPerImage: p.perImage };
}

/** The JSON summary of a run (also what `--json` prints). */
export interface RunSummary {
  name: string;
  status: string;
  message: string;
  backend: string;
  iterations: number;
  work: number;
  seconds: number;
  heldOut: { degraded: Scores; initial: Scores; learned: Scores };
  theta: Record<string, number[] | { shape: number[]; norm: number }>;
  constants?: BoundConstants;
  files: string[];
  history: Array<{ iteration: number; loss: number; trainingPsnr: number; eps: number; delta: number; step: number; work: number; accepted: boolean }>;
}

/** θ for the summary: small leaves as values, large ones by shape and norm. */
function thetaSummary(theta: Params): RunSummary['theta'] {
  const out: RunSummary['theta'] = {};
  for (const [k, v] of Object.entries(paramsToArrays(theta))) {
    out[k] = v.values.length <= 16 ? v.values : { shape: v.shape, norm: Math.hypot(...v.values) };
  }
  return out;
}

interface OutputContext {
  config: TrainConfig;
  setup: Setup;
  result: TrainResult<MethodStateBase>;
  out: string;
  backend: string;
  seconds: number;
  constants: BoundConstants | undefined;
  log: Writable;
  quiet: boolean;
}

/** Evaluates the learned θ on the held-out crops and writes every output file. */
export async function writeOutputs(c: OutputContext): Promise<RunSummary> {
  const { config, setup, result, out } = c;
  const test: PairData = setup.test;
  const pixels = config.data.crop * config.data.crop;
  const files: string[] = [];
  const degraded = setup.task.picture(test.y);
  const x0 = reconstruct(setup, setup.model.built.theta, test);
  const x = reconstruct(setup, result.theta, test);
  const heldOut = { degraded: scores(degraded, test.clean), initial: scores(x0, test.clean), learned: scores(x, test.clean) };
  const count = Math.min(config.output.images, config.data.testCount);
  for (let i = 0; i < count; i++) {
    for (const [tag, batch] of [['clean', test.clean], ['degraded', degraded], ['reconstructed', x]] as const) {
      saveOne(join(out, `test${i}-${tag}.png`), batch, i);
      files.push(`test${i}-${tag}.png`);
    }
  }
  if (count > 0) {
    // One row per crop: clean | degraded | reconstructed.
    const mosaic = tf.tidy(() => tf.concat(Array.from({ length: count }, (_, i) => tf.concat([test.clean, degraded, x].map((t) => tf.slice(t, [i, 0, 0, 0], [1, -1, -1, -1])), 2)), 1));
    saveImage(join(out, 'mosaic.png'), mosaic);
    mosaic.dispose();
    files.push('mosaic.png');
  }
  tf.dispose([degraded, x0, x]);
  const filterKey = setup.model.filterKey;
  if (filterKey != null && result.theta[filterKey] != null) {
    const picture = filterMosaic(result.theta[filterKey]);
    saveImage(join(out, 'filters.png'), picture);
    picture.dispose();
    files.push('filters.png');
  }
  const history = result.history.map((e) => ({
    iteration: e.iteration + 1,
    loss: e.loss,
    trainingPsnr: psnrOfLoss(e.loss, pixels),
    eps: e.eps,
    delta: e.delta,
    step: e.step,
    work: e.work,
    accepted: e.accepted,
  }));
  const name = config.name ?? `${config.model.kind} ${config.task.kind}`;
  await plotTraining(
    join(out, 'training.svg'),
    history.filter((h) => Number.isFinite(h.loss) && h.loss > 0).map((h) => ({ iteration: h.iteration, work: h.work, loss: h.loss, psnr: h.trainingPsnr })),
    `${name}: ${config.strategy.kind} + ${config.method.kind}`,
    'training PSNR (dB, from the loss)',
  );
  files.push('training.svg', 'training.vl.json');
  writeJson(join(out, 'theta.json'), paramsToArrays(result.theta));
  files.push('theta.json', 'config.json', 'checkpoint.json', 'checkpoint.json.prev', 'checkpoint.json.history.jsonl', 'summary.json');
  const summary: RunSummary = {
    name,
    status: result.status,
    message: result.message,
    backend: c.backend,
    iterations: result.history.length,
    work: workUnits(result.work),
    seconds: c.seconds,
    heldOut,
    theta: thetaSummary(result.theta),
    ...(c.constants != null ? { constants: c.constants } : {}),
    files: files.sort(),
    history,
  };
  writeJson(join(out, 'summary.json'), summary);
  if (!c.quiet) {
    const row = (label: string, s: Scores) => ({ 'held-out crops': label, 'PSNR dB': Number(s.psnr.toFixed(2)), SSIM: Number(s.ssim.toFixed(4)) });
    say(c.log, `\n${result.message}\n${result.history.length} iterations, work ${summary.work}, ${c.seconds.toFixed(1)} s\n`);
    say(c.log, markdownTable([row(config.task.kind === 'mri' ? 'zero-filled' : config.task.kind === 'ct' ? 'FBP' : 'degraded', heldOut.degraded), row('model at θ₀', heldOut.initial), row('learned θ', heldOut.learned)]));
    say(c.log, `\nlearned θ: ${JSON.stringify(summary.theta)}`);
    say(c.log, `wrote ${out}/{${summary.files.join(', ')}}`);
  }
  return summary;
}
