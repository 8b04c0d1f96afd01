import { tf, valueAndGradParams } from '@bilevel/core';
import type { Params, Problem, FixedPointProblem } from '@bilevel/core';
import type { FixedPointMap } from '../backward/types.js';

/**
 * The map whose fixed point is the lower-level solution, and the scale s turning its
 * residual into the problem's (`‖T(x) − x‖ = s‖∇ₓΦ‖` for the gradient step of an energy).
 */
export function fixedPointMap<D>(
  where: string, problem: Problem<D> | FixedPointProblem<D>, theta: Params, data: D, stepSize: number | undefined,
): { map: FixedPointMap; scale: number; energy: boolean } {
  if (problem.kind === 'fixed-point') return { map: (x, th) => problem.map(x, th, data), scale: 1, energy: false };
  let s = stepSize;
  if (s == null) {
    const L = problem.lipschitz(theta, data);
    if (L == null || !(L > 0)) {
      throw new Error(`${where}: energy '${problem.name}' has no smoothness: pass options.stepSize (T(x) = x − s∇Φ(x), s < 2/L) or give defineProblem a 'smoothness'.`);
    }
    s = 1 / L;
  }
  const step = s;
  const map: FixedPointMap = (x, th) => tf.sub(x, tf.mul(step, tf.grad((z: tf.Tensor) => problem.energy(z, th, data))(x)));
  return { map, scale: step, energy: true };
}

/** `(∂_θT(x; θ))ᵀ w` by one VJP of ⟨T(x; θ), w⟩ in θ. The caller owns the result. */
export function thetaVjp(map: FixedPointMap, x: tf.Tensor, theta: Params, w: tf.Tensor): Params {
  const { value, grad } = valueAndGradParams((th) => tf.sum(tf.mul(map(x, th), w)), theta);
  value.dispose();
  return grad;
}
