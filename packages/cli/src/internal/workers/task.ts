/**
 * The task module of `bilevel train`'s `workers`: every worker (a thread of `@bilevel/pool`,
 * a process of `bilevel worker`, or this thread for `kind: 'inline'`) imports it with the
 * resolved config as its setup, builds the same crops, degradations and model as the
 * coordinator (all seeded), and serves crop i's lower-level problem. The loss of one crop is
 * ½‖x̂ᵢ − xᵢ‖², so the pool's mean over a batch is the config's `(1/n)·½‖x̂ − x‖²`.
 */
import { tf, definePoolTask, type PoolTask } from '@bilevel/core';
import type { EstimatedConstants } from '@bilevel/outer';
import type { TrainConfig } from '../../config/schema.js';
import { buildSetup, type Setup } from '../build/setup.js';
import { buildStrategy } from '../build/solvers.js';
import { estimateConstants, type PairData } from '../build/constants.js';

/** What a worker is given (plain data: it crosses threads and processes). */
export interface CliTaskSetup {
  /** The resolved config (absolute paths). */
  config: TrainConfig;
  /** The config file's folder. */
  dir: string;
  /**
   * The bound constants of ONE crop ({@link cropConstants}), as the coordinator estimated
   * them; a worker started by hand without them estimates them itself (the same seeded
   * estimator on the same crops).
   */
  constants?: Omit<EstimatedConstants, 'mu'>;
}

/** Whether the config's method certifies its accuracies (and so needs the constants). */
export const needsConstants = (config: TrainConfig): boolean => config.method.kind === 'maid' || config.method.kind === 'dfo';

/**
 * The bound constants of one crop, for the crop-by-crop engines: `estimateBoundConstants`
 * on each training crop alone (L_{∇ℓ} = 1 for ½‖x − x_clean‖²), the largest of each constant
 * over the crops — so every crop's certificate uses constants measured on a crop, not the
 * batch's (whose B_J is the norm of the stacked Jacobian, ~√n times one crop's, and whose
 * secant estimates of L_H, L_J are taken along one joint direction). About the cost of one
 * estimate on the batch: each crop's is 1/n of it.
 */
export function cropConstants(built: Setup, config: TrainConfig): Omit<EstimatedConstants, 'mu'> {
  const safety = config.method.kind === 'maid' ? config.method.safety : 2;
  const out = { lossLipschitz: 1, mixedNorm: 0, hessianLipschitz: 0, mixedLipschitz: 0 };
  for (let i = 0; i < config.data.count; i++) {
    const crop = cropOf(built.train, i);
    try {
      const c = estimateConstants(built.problem, built.model.built.theta, crop, safety, config.data.seed);
      out.mixedNorm = Math.max(out.mixedNorm, c.mixedNorm);
      out.hessianLipschitz = Math.max(out.hessianLipschitz, c.hessianLipschitz);
      out.mixedLipschitz = Math.max(out.mixedLipschitz, c.mixedLipschitz);
    } finally {
      tf.dispose([crop.y, crop.clean]);
    }
  }
  return out;
}

/** Crop i of the training pair, as a batch of one (fresh tensors). */
const cropOf = (train: PairData, i: number): PairData => tf.tidy(() => {
  const idx = tf.tensor1d([i], 'int32');
  return { y: tf.gather(train.y, idx), clean: tf.gather(train.clean, idx) };
});

/** The task and what frees the coordinator-side copy of its crops (`kind: 'inline'`). */
export function cliTask(setup: CliTaskSetup): { task: PoolTask<PairData>; dispose(): void } {
  const { config, dir } = setup;
  const built = buildSetup(config, dir);
  try {
    const constants = setup.constants ?? (needsConstants(config) ? cropConstants(built, config) : undefined);
    const strategy = buildStrategy(config.strategy, constants);
    const task = definePoolTask<PairData>({
      problem: built.problem,
      strategy,
      loss: built.loss,
      samples: config.data.count,
      sample: (i) => cropOf(built.train, i),
    });
    return {
      task,
      dispose: () => {
        (strategy as { dispose?: () => void }).dispose?.();
        built.dispose();
      },
    };
  } catch (e) {
    built.dispose();
    throw e;
  }
}

/** A worker's entry: the task of the config (kept for the worker's lifetime). */
export default function task(setup: CliTaskSetup): PoolTask<PairData> {
  return cliTask(setup).task;
}
