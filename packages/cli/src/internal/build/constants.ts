/**
 * Constants of MAID's (and DFO's) error bounds for the CLI's energies
 * `Φ(x; θ) = ½‖Ax − y‖² + R(x; θ) + (ξ/2)‖x‖²` with the loss `ℓ = (1/n)·½‖x − x_clean‖²`:
 * `estimateBoundConstants` of `@bilevel/outer` (μ the problem's declared strong convexity,
 * L_{∇ℓ} = 1/n exact, B_J, L_H, L_J measured at θ₀ times `safety`), with the CLI's message
 * when the energy has no μ.
 */
import type { tf, Params, Problem } from '@bilevel/core';
import { estimateBoundConstants, type EstimatedConstants } from '@bilevel/outer';
import { FailureError } from '../../errors.js';

/** Lower-level data of the CLI: measurements `y` and the clean target. */
export type PairData = { y: tf.Tensor; clean: tf.Tensor };

/** Estimated bound constants at θ₀ for the mean squared loss over the crops of `data`. */
export function estimateConstants(problem: Problem<PairData>, theta: Params, data: PairData, safety: number, seed = 0): EstimatedConstants {
  const mu = problem.mu(theta, data);
  if (mu == null || !(mu > 0)) throw new FailureError(`the energy '${problem.name}' declares no strong convexity μ > 0 at θ₀, which MAID's and DFO's bounds need: set model.xi > 0 or use method 'adam'.`);
  return estimateBoundConstants(problem, theta, data, { lossLipschitz: 1 / (data.y.shape[0] ?? 1), safety, seed });
}
