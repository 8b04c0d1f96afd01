/**
 * A user's problem module for `bilevel check`: a JavaScript module (TypeScript when run
 * under tsx) whose default export is either an object or a function `({ tf, core }) =>
 * object` (which then builds its tensors with the CLI's own tfjs), holding
 *   energy(x, theta, data) → scalar     (or problem: a Problem from defineProblem)
 *   gradient?(x, theta, data) → tensor   a hand-written ∇ₓΦ, used by the solvers and checked
 *   (valueAndGradient, hessian, mixed: the other fields of defineProblem's `derivatives`)
 *   loss(x, theta, data) → scalar
 *   theta: Params, data: the lower-level data,
 *   x0?: tensor or init?(theta, data) → tensor (default: a copy of the first data tensor),
 *   strongConvexity?, smoothness? (numbers or (theta, data) => number; smoothness L gives unrolled and equilibrium step 1/L).
 * Named exports with these names work too.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as core from '@bilevel/core';
import { tf, defineProblem } from '@bilevel/core';
import type { Constant, Data, Derivatives, Loss, Params, Problem } from '@bilevel/core';
import { UsageError, FailureError } from '../../errors.js';

/** A problem module, normalised. */
export interface CheckModule {
  problem: Problem<Data>;
  loss: Loss<Data>;
  theta: Params;
  data: Data;
  x0: tf.Tensor | undefined;
  /** Whether the module gave its own ∇ₓΦ. */
  handGradient: boolean;
}

type Raw = Record<string, unknown>;

const isTensor = (v: unknown): v is tf.Tensor => v instanceof tf.Tensor;

/** Loads and checks the module's shape; every problem is a usage error naming the export. */
export async function loadCheckModule(path: string): Promise<CheckModule> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`bilevel check: no module ${path}.`);
  let mod: Raw;
  try {
    mod = (await import(pathToFileURL(file).href)) as Raw;
  } catch (e) {
    throw new FailureError(`bilevel check: cannot load ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  let spec = (mod.default ?? mod) as unknown;
  if (typeof spec === 'function') spec = await (spec as (ctx: { tf: typeof tf; core: typeof core }) => unknown)({ tf, core });
  if (spec == null || typeof spec !== 'object') throw new UsageError(`bilevel check: ${path} must export an object (or a function ({ tf, core }) => object) with energy, loss, theta and data.`);
  const s = spec as Raw;
  const where = `bilevel check: ${path}`;
  if (typeof s.loss !== 'function') throw new UsageError(`${where}: export 'loss' must be a function (x, theta, data) => scalar tensor, got ${typeof s.loss}.`);
  if (s.theta == null || typeof s.theta !== 'object' || !Object.values(s.theta).every(isTensor) || Object.keys(s.theta).length === 0) {
    throw new UsageError(`${where}: export 'theta' must be an object of tensors ({ name: tf.Tensor }).`);
  }
  if (s.data == null) throw new UsageError(`${where}: export 'data' is missing (the lower-level data the energy reads).`);
  if (s.x0 != null && !isTensor(s.x0)) throw new UsageError(`${where}: export 'x0' must be a tensor.`);
  let problem: Problem<Data>;
  if (s.problem != null) {
    if ((s.problem as { kind?: string }).kind !== 'energy') throw new UsageError(`${where}: export 'problem' must come from defineProblem (an energy); fixed-point and saddle problems are not checked yet.`);
    problem = s.problem as Problem<Data>;
  } else {
    if (typeof s.energy !== 'function') throw new UsageError(`${where}: export 'energy' must be a function (x, theta, data) => scalar tensor (or export 'problem' from defineProblem).`);
    const energy = s.energy as Problem<Data>['energy'];
    const spec = {
      name: String(s.name ?? path),
      energy,
      // Starting point: the module's init, else its x0 (given per call), else a copy of the first data tensor.
      ...(typeof s.init === 'function'
        ? { init: s.init as (th: Params, d: Data) => tf.Tensor }
        : s.x0 != null ? {} : { init: (_th: Params, d: Data) => (isTensor(d) ? d : (Object.values(d).find(isTensor) as tf.Tensor)).clone() }),
      ...(s.strongConvexity != null ? { strongConvexity: s.strongConvexity as Constant<Data> } : {}),
      ...(s.smoothness != null ? { smoothness: s.smoothness as Constant<Data> } : {}),
    };
    // Supplied derivatives go through defineProblem's own mechanism (the solvers then use
    // them, and autodiff of the supplied gradient fills in HVPs and mixed products).
    const supplied = Object.fromEntries(['gradient', 'valueAndGradient', 'hessian', 'mixed'].filter((k) => s[k] != null).map((k) => [k, s[k]]));
    for (const [k, v] of Object.entries(supplied)) if (typeof v !== 'function') throw new UsageError(`${where}: export '${k}' must be a function.`);
    problem = defineProblem<Data>({ ...spec, ...(Object.keys(supplied).length > 0 ? { derivatives: supplied as Derivatives<Data> } : {}) });
  }
  return { problem, loss: s.loss as Loss<Data>, theta: s.theta as Params, data: s.data as Data, x0: s.x0 as tf.Tensor | undefined, handGradient: s.gradient != null || s.valueAndGradient != null };
}
