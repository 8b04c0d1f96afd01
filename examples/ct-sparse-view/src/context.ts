/**
 * What every method of the sparse-view CT example shares: the flags, the Radon operator A (and
 * ‖A‖ for the normalisation Â = A/‖A‖), the training and held-out phantoms with their noisy
 * sinograms, and the scoring. A method (one file in `methods/`) reads this and returns table rows.
 */
import { tf } from '@bilevel/core';
import { radon, ctPhantoms, psnr, ssim, fbp } from '@bilevel/imaging';
import type { RadonOperator } from '@bilevel/imaging';

/** Flags of the example (`parseFlags` defaults in `main.ts`). */
export interface CtFlags {
  size: number;
  angles: number;
  noise: number;
  count: number;
  test: number;
  seed: number;
  [key: string]: number | string | boolean;
}

/** A training or held-out set: sinograms u `[B, angles, detectors, 1]` and phantoms t `[B, n, n, 1]`. */
export interface CtSet {
  u: tf.Tensor;
  t: tf.Tensor;
  /** FBP images of u `[B, n, n, 1]`: the anchor of `--tvAnchor fbp` (tv-problem.ts); absent in sets built elsewhere. */
  fbp?: tf.Tensor;
}

/** The shared context. */
export interface CtContext {
  flags: CtFlags;
  /** Image side n. */
  n: number;
  A: RadonOperator;
  /** ‖A‖ (40 power iterations × 1.01): Â = A/scale has ‖Â‖ ≈ 1. */
  scale: number;
  /** Number of sinogram entries per sample. */
  rays: number;
  train: CtSet;
  test: CtSet;
  /** Results one method leaves for the later ones of the same run: `tvAlpha`, TV-MAID's learned α (the FoE / ICNN start). */
  shared: Record<string, number>;
  /** PSNR / SSIM (means over the batch) of x clipped to [0, 1] against clean. */
  scores(x: tf.Tensor, clean: tf.Tensor): { psnr: number; ssim: number };
}

/** One row of the table. */
export interface CtRow {
  method: string;
  PSNR: string;
  SSIM: string;
  'paper PSNR / SSIM': string;
  parameters: string;
  /** Training work: PDHG + adjoint iterations (or '-'). */
  work: string;
  /** Wall seconds of this method (training and evaluation). */
  seconds: string;
  /** Whether the solves behind this row's figures converged (`rowConvergence(...).text()`), or 'no solve'. */
  converged: string;
}

/**
 * A method of the table: one file in `methods/`, listed in `methods/index.ts`. `run` may add
 * several rows (e.g. the initial and the learned model); `summary` goes into summary.json.
 */
export interface CtMethod {
  /** Short name, used by `--methods` to select it. */
  name: string;
  run(ctx: CtContext): Promise<{ rows: CtRow[]; summary?: unknown }>;
}

/** Builds the context: operator, ‖A‖, phantoms (disjoint train/test seeds) and noisy sinograms. */
export function ctContext(flags: CtFlags): CtContext {
  const n = flags.size;
  const A = radon(n, { angles: flags.angles });
  // ‖A‖ by 40 power iterations on AᵀA (×1.01 for the approach from below); normBound
  // (√(max row · max column sum)) overestimates it, which would leave ÂᵀÂ ≪ 1 next to μ and over-shrink x.
  let scale = 1;
  tf.tidy(() => {
    let v: tf.Tensor = tf.randomNormal([1, n, n, 1], 0, 1, 'float32', 7);
    for (let i = 0; i < 40; i++) {
      const w = A.adjoint(A.apply(v));
      scale = 1.01 * Math.sqrt(tf.norm(w).dataSync()[0] / tf.norm(v).dataSync()[0]);
      v = tf.div(w, tf.norm(w));
    }
  });
  const { train, test } = ctPhantoms({ size: n, count: flags.count, testCount: flags.test, seed: flags.seed });
  const withFbp = (u: tf.Tensor, t: tf.Tensor): CtSet => ({ u, t, fbp: fbp(A, u) });
  const measure = (clean: tf.Tensor, seed: number) => tf.tidy(() => {
    const s = A.apply(clean);
    const peak = tf.max(s).dataSync()[0];
    return tf.add(s, tf.mul(tf.randomNormal(s.shape, 0, 1, 'float32', seed), flags.noise * peak));
  });
  return {
    flags, n, A, scale, rays: A.outShape[0] * A.outShape[1], shared: {},
    train: withFbp(measure(train, 1 + flags.seed), train),
    test: withFbp(measure(test, 1001 + flags.seed), test),
    scores(x, clean) {
      const c = tf.clipByValue(x, 0, 1);
      const p = psnr(c, clean).mean;
      const s = ssim(c, clean).mean;
      c.dispose();
      return { psnr: p, ssim: s };
    },
  };
}

/** Releases the context's tensors. */
export function disposeContext(ctx: CtContext): void {
  tf.dispose([ctx.train.u, ctx.train.t, ctx.test.u, ctx.test.t, ...[ctx.train.fbp, ctx.test.fbp].filter((t): t is tf.Tensor => t != null)]);
  ctx.A.dispose();
}
