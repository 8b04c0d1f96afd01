/**
 * The operator check of a saddle problem, run once per problem and shape of x at its first
 * use: K and Kᵀ must agree in shape (Kᵀ(Kx) shaped like x; `initDual` shaped like Kx) and
 * pass a random adjointness test `⟨Kx, z⟩ = ⟨x, Kᵀz⟩` (tfjs-core's and this project's
 * operator test, STYLE.md 7), so a wrong operator is named before PDHG runs on it.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import type { Params } from '../params.js';
import type { SaddleProblem } from '../problem.js';
import { seededNormal } from '../random.js';

const checked = new WeakMap<object, Set<string>>();

/**
 * Relative gap allowed between ⟨Kx, z⟩ and ⟨x, Kᵀz⟩: float32 inner products of n terms err by
 * ~√n·6e-8 relative to ‖Kx‖‖z‖, i.e. ≤ 1e-4 up to n = 10⁶; a wrong adjoint (a missing
 * transpose, a factor 2, a wrong boundary) is off by O(1).
 */
const ADJOINT_GAP = 1e-3;

/**
 * Throws, naming the operator and the shapes, unless the problem's K and Kᵀ agree at (θ, data).
 *
 * @param where - the public function, for the message.
 * @param problem - the saddle problem.
 * @param theta - parameters.
 * @param data - lower-level data.
 */
export function checkSaddleOperator<D>(where: string, problem: SaddleProblem<D>, theta: Params, data: D): void {
  tf.tidy(() => {
    const x0 = problem.initialPoint(theta, data);
    const key = x0.shape.join('x');
    const seen = checked.get(problem) ?? new Set<string>();
    if (seen.has(key)) return;
    const name = `${where}: saddle problem '${problem.name}'`;
    const x = seededNormal(x0.shape, 11);
    const kx = problem.apply(x, theta, data);
    if (!(kx instanceof tf.Tensor)) throw new Error(`${name}: 'apply' must return a tensor K x, got ${typeof kx}.`);
    const z = seededNormal(kx.shape, 12);
    const ktz = problem.adjoint(z, theta, data, x0.shape);
    if (!(ktz instanceof tf.Tensor) || !tf.util.arraysEqual(ktz.shape, x0.shape)) {
      throw new Error(`${name}: K and Kᵀ disagree in shape: 'apply' maps x [${x0.shape}] to [${kx.shape}], but 'adjoint' maps that to [${ktz instanceof tf.Tensor ? ktz.shape : typeof ktz}], not x's shape; fix 'adjoint' (or 'init', which fixes the shape of x).`);
    }
    const z0 = problem.initialDual(theta, data, x0);
    if (!tf.util.arraysEqual(z0.shape, kx.shape)) {
      throw new Error(`${name}: 'initDual' gives z of shape [${z0.shape}], but K x has shape [${kx.shape}].`);
    }
    const [lhs, rhs, scale] = Array.from(tf.stack([tf.sum(tf.mul(kx, z)), tf.sum(tf.mul(x, ktz)), tf.mul(tf.norm(kx), tf.norm(z))]).dataSync());
    const gap = Math.abs(lhs - rhs) / Math.max(scale, 1e-30);
    if (!(gap <= ADJOINT_GAP)) {
      throw new Error(`${name}: 'adjoint' is not the adjoint of 'apply': for random x, z, ⟨Kx, z⟩ = ${lhs.toExponential(4)} but ⟨x, Kᵀz⟩ = ${rhs.toExponential(4)} (relative gap ${gap.toExponential(2)} > ${ADJOINT_GAP}); fix 'adjoint', or omit it to use the VJP of 'apply'.`);
    }
    seen.add(key);
    checked.set(problem, seen);
  });
}
