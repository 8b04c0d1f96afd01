import { tf } from '@bilevel/core';

/** Inner product of two tensors accumulated in JS doubles (so only the operators' float32 error remains). */
export function dot(a: tf.Tensor, b: tf.Tensor): number {
  const u = a.dataSync();
  const v = b.dataSync();
  if (u.length !== v.length) throw new Error(`dot: sizes ${u.length} and ${v.length} differ`);
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i] * v[i];
  return s;
}

/** Euclidean norm in doubles. */
export function norm(a: tf.Tensor): number {
  return Math.sqrt(dot(a, a));
}

/**
 * Adjoint mismatch |⟨Ax, y⟩ − ⟨x, Aᵀy⟩| / (‖Ax‖‖y‖): scale-free, and well defined even when
 * the inner product itself is near 0 (dividing by it would not be).
 */
export function adjointError(apply: (x: tf.Tensor) => tf.Tensor, adjoint: (y: tf.Tensor) => tf.Tensor, x: tf.Tensor, y: tf.Tensor): number {
  const ax = apply(x);
  const aty = adjoint(y);
  const err = Math.abs(dot(ax, y) - dot(x, aty)) / Math.max(norm(ax) * norm(y), 1e-30);
  tf.dispose([ax, aty]);
  return err;
}
