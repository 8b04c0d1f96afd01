import { tf } from './tf.js';
import type { Params } from './params.js';
import { keysOf } from './params.js';

/*
 * Every primitive here runs its tfjs gradient with the engine's active tape saved and
 * restored. A `tf.grad` at gradient depth 0 (which is what the body of a `tf.customGrad`
 * gradient function is) ends by setting `activeTape = null`, and the outer backward pass
 * that called it then crashes with "Cannot read properties of null". Saving the tape makes
 * these primitives safe inside custom gradients, which is how `argmin` is built.
 */
export function withIsolatedTape<T>(fn: () => T): T {
  const state = tf.engine().state as unknown as { activeTape: Array<{ saved?: tf.Tensor[] }> | null };
  const saved = state.activeTape;
  try {
    return fn();
  } catch (e) {
    // tfjs's gradients() frees the tensors its tape saved for the backward pass only when the
    // function returns: when it throws (a failing energy or loss) they stay kept, one leak per
    // saved tensor. A tape started here (not the caller's) is released before re-throwing.
    const tape = state.activeTape;
    if (tape != null && tape !== saved) for (const node of tape) for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
    throw e;
  } finally {
    state.activeTape = saved;
  }
}

function assertScalar(y: tf.Tensor, where: string): void {
  if (y.rank !== 0) throw new Error(`${where}: the function must return a scalar, got shape [${y.shape}]; sum it.`);
}

/**
 * Runs `fn` on a fresh handle (a clone) of `x`. tfjs's tape tracks tensors by identity, so
 * differentiating at the very tensor the function also reads as data (x = data.y, the noisy image a
 * denoising solve starts from) differentiates through both uses: ∂/∂x(x − y) came out 0, and the
 * Hessian–vector product of ½‖x − y‖² + R(x) at x = y lost its identity part (measured: 1.2 for
 * 2.2 on a 3-vector; the 2026-12 foe-denoise constants read L_H = 0.35 for 0.229 that way). The
 * clone is one copy of x, small next to the backward passes.
 */
function atFresh<T>(x: tf.Tensor, fn: (z: tf.Tensor) => T): T {
  const z = x.clone();
  try {
    return fn(z);
  } finally {
    z.dispose();
  }
}

/**
 * Value and gradient of a scalar function of one tensor.
 *
 * @param f - scalar function `f(x)`.
 * @param x - point.
 * @returns `{ value: f(x), grad: ∇f(x) }`.
 * @example
 * ```ts
 * const { value, grad } = valueAndGrad((x) => tf.sum(tf.square(x)), tf.tensor1d([1, 2]));
 * // value = 5, grad = [2, 4]
 * ```
 */
export function valueAndGrad(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): { value: tf.Scalar; grad: tf.Tensor } {
  return withIsolatedTape(() => atFresh(x, (x1) => {
    const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => {
      const y = f(z);
      assertScalar(y, 'valueAndGrad');
      return y;
    })(x1);
    return { value: value as tf.Scalar, grad };
  }));
}

/** Gradient `∇f(x)` of a scalar function of one tensor. See {@link valueAndGrad}. */
export function grad(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  const { value, grad: g } = valueAndGrad(f, x);
  value.dispose();
  return g;
}

/**
 * Value and gradient of a scalar function of a parameter tree. Leaves the function does
 * not depend on get zero gradients.
 *
 * @example
 * ```ts
 * const { grad } = valueAndGradParams((p) => tf.sum(tf.mul(p.a, p.b)), { a, b });
 * ```
 */
export function valueAndGradParams(f: (p: Params) => tf.Tensor, p: Params): { value: tf.Scalar; grad: Params } {
  const keys = keysOf(p);
  return withIsolatedTape(() => {
    let value!: tf.Scalar;
    const grads = tf.tidy(() => {
      const leaves = keys.map((k) => p[k]);
      // engine.gradients with allowNoGradients: leaves f ignores get no gradient instead of an error.
      const { value: v, grads: gs } = tf.engine().gradients(() => {
        const tree: Params = {};
        keys.forEach((k, i) => (tree[k] = leaves[i]));
        const y = f(tree);
        assertScalar(y, 'valueAndGradParams');
        return y;
      }, leaves, undefined, true);
      value = tf.keep(v as tf.Scalar);
      return gs.map((g, i) => (g == null ? tf.zerosLike(p[keys[i]]) : g));
    });
    const out: Params = {};
    keys.forEach((k, i) => (out[k] = grads[i]));
    return { value, grad: out };
  });
}

/**
 * Vector–Jacobian product `J_f(x)ᵀ v` of a tensor function.
 *
 * @param f - map `x ↦ f(x)`.
 * @param x - point.
 * @param v - cotangent, shaped like `f(x)`.
 * @returns `J_f(x)ᵀ v`, shaped like `x`.
 */
export function vjp(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, v: tf.Tensor): tf.Tensor {
  return withIsolatedTape(() => atFresh(x, (x1) => tf.grad((z: tf.Tensor) => tf.sum(tf.mul(f(z), v)))(x1)));
}

/**
 * Hessian–vector product `∇²f(x) v` by double backpropagation.
 *
 * Correct for energies built from exp, tanh, sigmoid and the other kernels whose tfjs
 * gradients read their outputs, because importing bilevel re-registers those gradients.
 *
 * @example
 * ```ts
 * const hv = hvp((x) => tf.sum(tf.exp(x)), x, v);   // = exp(x) ⊙ v
 * ```
 */
export function hvp(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, v: tf.Tensor): tf.Tensor {
  if (!tf.util.arraysEqual(x.shape, v.shape)) {
    throw new Error(`hvp: direction v has shape [${v.shape}], expected the shape of x [${x.shape}].`);
  }
  return withIsolatedTape(() => atFresh(x, (x1) =>
    tf.grad((z: tf.Tensor) => {
      const gz = tf.grad((w: tf.Tensor) => f(w))(z);
      return tf.sum(tf.mul(gz, v));
    })(x1),
  ));
}

/**
 * Mixed second-derivative product `∇_θ ⟨∇ₓf(x; θ), v⟩ = (∇²_{xθ} f)ᵀ v`, the term every
 * implicit hypergradient needs.
 *
 * @param f - scalar function of `x` and the parameter tree `θ`.
 * @param x - lower-level point.
 * @param theta - parameters.
 * @param v - direction shaped like `x`.
 * @returns a tree shaped like `theta`.
 */
export function mixedProduct(
  f: (x: tf.Tensor, theta: Params) => tf.Tensor,
  x: tf.Tensor,
  theta: Params,
  v: tf.Tensor,
): Params {
  if (!tf.util.arraysEqual(x.shape, v.shape)) {
    throw new Error(`mixedProduct: direction v has shape [${v.shape}], expected the shape of x [${x.shape}].`);
  }
  const { value, grad: g } = atFresh(x, (x1) => valueAndGradParams((th) => {
    const gx = tf.grad((w: tf.Tensor) => f(w, th))(x1);
    return tf.sum(tf.mul(gx, v));
  }, theta));
  value.dispose();
  return g;
}

/**
 * Jacobian–vector product `J_f(x) u` by the double-VJP trick: `w ↦ J_fᵀ w` is linear, so
 * differentiating `⟨J_fᵀ w, u⟩` in `w` gives `J_f u`.
 *
 * @param f - map `x ↦ f(x)`.
 * @param x - point.
 * @param u - tangent shaped like `x`.
 * @returns `J_f(x) u`, shaped like `f(x)`.
 */
export function jvp(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, u: tf.Tensor): tf.Tensor {
  if (!tf.util.arraysEqual(x.shape, u.shape)) {
    throw new Error(`jvp: tangent u has shape [${u.shape}], expected the shape of x [${x.shape}].`);
  }
  return withIsolatedTape(() =>
    tf.tidy(() => {
      const x1 = x.clone(); // a fresh handle, as in atFresh (disposed by the tidy)
      const y = f(x1);
      const w0 = tf.zerosLike(y);
      return tf.grad((w: tf.Tensor) => {
        const jtw = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(f(z), w)))(x1);
        return tf.sum(tf.mul(jtw, u));
      })(w0);
    }),
  );
}
