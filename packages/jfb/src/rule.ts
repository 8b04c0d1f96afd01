import { tf, addWork, keysOf, valueAndGradParams, fixedPointMapOf, statusMessage } from '@bilevel/core';
import type { DifferentiationRule, Params, Problem, FixedPointProblem } from '@bilevel/core';

/**
 * The Jacobian-free rule (Fung et al. 2022): `(∂x̂/∂θ)ᵀ v ≈ (∂_θ T^k(x; θ))ᵀ v` with x held
 * constant, i.e. `(I − ∂ₓT)⁻ᵀ` replaced by the identity (k = 1) or by the first k terms of
 * its Neumann series along the k steps. Also returns `(∂ T^k/∂data)ᵀ v` when asked (data a
 * single tensor), so it backs `ArgminLayer` inputs.
 *
 * @param where - the strategy's name, for messages.
 * @param steps - k, the number of differentiated steps of T.
 * @param stepSize - s of the gradient step for energies (default 1/L).
 * @returns a core `DifferentiationRule` (no residual, status 'fixed-steps').
 */
export function jacobianFreeRule(where: string, steps: number, stepSize: number | undefined): DifferentiationRule {
  return {
    name: `jacobianFree(k=${steps})`,
    vjp({ problem, theta, data, forward, cotangent, wrtData }) {
      const fp = problem as Problem<typeof data> | FixedPointProblem<typeof data>;
      const { map, energy } = fixedPointMapOf(where, fp, theta, data, stepSize);
      if (wrtData && !(data instanceof tf.Tensor)) throw new Error(`${where}: vjpSolution with wrtData needs 'data' to be a single tensor.`);
      const keys = keysOf(theta);
      // θ's leaves by position, then data: no key of θ is reserved.
      const leaves: tf.Tensor[] = keys.map((k) => theta[k]);
      if (wrtData) leaves.push(data as unknown as tf.Tensor);
      const tree: Params = Object.fromEntries(leaves.map((t, i) => [String(i), t]));
      const { value, grad: all } = valueAndGradParams((p) => {
        const th: Params = Object.fromEntries(keys.map((k, i) => [k, p[String(i)]]));
        const d = wrtData ? (p[String(keys.length)] as unknown as typeof data) : data;
        let z = forward.x;
        for (let i = 0; i < steps; i++) z = map(z, th, d);
        return tf.sum(tf.mul(z, cotangent));
      }, tree);
      value.dispose();
      const grad: Params = Object.fromEntries(keys.map((k, i) => [k, all[String(i)]]));
      return {
        grad,
        dataGrad: wrtData ? all[String(keys.length)] : undefined,
        converged: true,
        status: 'fixed-steps',
        iterations: steps,
        message: statusMessage('fixed-steps', {
          where: 'Jacobian-free backward', iterations: steps,
          fix: 'JFB has no backward solve and no error bound (a descent direction, not the exact hypergradient); use implicit(...) or equilibrium(...) for the solved adjoint',
        }),
        work: addWork(energy ? { hvps: steps } : { vjps: steps }),
      };
    },
  };
}
