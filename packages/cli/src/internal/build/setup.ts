/**
 * Everything a config builds: the crops and their degradations, the task's operator, the
 * model's problem and θ₀, the loss. Shared by `train` and `eval`; `dispose()` frees it all.
 */
import { tf, lbfgs } from '@bilevel/core';
import type { Loss, Params, Problem } from '@bilevel/core';
import type { TrainConfig } from '../../config/schema.js';
import { cleanCrops } from './data.js';
import { buildTask, type BuiltTask } from './tasks.js';
import { buildModel, imageOf, type BuiltModel } from './models.js';
import type { PairData } from './constants.js';

/** A built config. */
export interface Setup {
  task: BuiltTask;
  model: BuiltModel;
  problem: Problem<PairData>;
  train: PairData;
  test: PairData;
  /** `ℓ(x) = (1/n)·½‖x − x_clean‖²` (n = the batch size). */
  loss: Loss<PairData>;
  dispose(): void;
}

/**
 * `(1/n)·½‖image(x) − x_clean‖²`: its ∇ₓℓ is (1/n)-Lipschitz, as MAID's constants assume
 * (the image map is the identity, or TGV's projection z = (u, w) ↦ u, of norm 1).
 */
export const meanSquaredLoss = (image: (x: tf.Tensor) => tf.Tensor = (x) => x): Loss<PairData> => (x, _theta, data) =>
  tf.tidy(() => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(image(x), data.clean)))), x.shape[0]!));

/**
 * PSNR (peak 1) of the pooled mean squared error that `loss` = (1/n)·½‖x̂ − x‖² measures:
 * MSE per pixel = 2·loss / (h·w), PSNR = −10 log₁₀ MSE.
 */
export const psnrOfLoss = (loss: number, pixels: number): number => -10 * Math.log10((2 * loss) / pixels);

/** Builds a config (relative paths from `dir`). */
export function buildSetup(config: TrainConfig, dir: string): Setup {
  const crops = cleanCrops(config, dir);
  const owned: Array<{ dispose(): void }> = [{ dispose: () => tf.dispose([crops.train, crops.test]) }];
  try {
    const task = buildTask(config.task, config.data.crop, dir);
    owned.push(task);
    const seed = config.data.seed;
    const train: PairData = { y: task.degrade(crops.train, 2 * seed + 1), clean: crops.train };
    const test: PairData = { y: task.degrade(crops.test, 2 * seed + 2), clean: crops.test };
    owned.push({ dispose: () => tf.dispose([train.y, test.y]) });
    const model = buildModel(config.model, task.operator, seed);
    owned.push(model.built);
    return {
      task,
      model,
      problem: model.built.problem as unknown as Problem<PairData>,
      train,
      test,
      loss: meanSquaredLoss(model.image),
      dispose: () => owned.reverse().forEach((o) => o.dispose()),
    };
  } catch (e) {
    owned.reverse().forEach((o) => o.dispose());
    throw e;
  }
}

/** The image of x̂(θ), x̂ by a tight L-BFGS solve (evaluation, whatever the training strategy). */
export function reconstruct(setup: Setup, theta: Params, data: PairData): tf.Tensor {
  return solveImage(setup.model, setup.problem, theta, data);
}

/** The image of x̂(θ) for a built model and its problem. */
export function solveImage(model: BuiltModel, problem: Problem<PairData>, theta: Params, data: PairData): tf.Tensor {
  const x = lbfgs({ maxIter: 3000 }).solve(problem, theta, data, { tol: 1e-3 }).x;
  const image = imageOf(model, x);
  x.dispose();
  return image;
}
