import { it, expect, describe, beforeAll } from 'vitest';
import { tf, initBackend } from '@bilevel/core';
import { convexNetwork, gradient2d } from '@bilevel/imaging';
import { tvFilters, tvGamma, tvSecondLayer } from '../src/methods/tv-filters.js';

/*
 * The 'tv' start of the FoE / ICNN rows (tv-filters.ts): the untrained FoE γΣψ_w(Vx) with the 8-direction
 * filters at α and γ = tvGamma(ε, w) is TV-MAID's α Huber_ε(∇x) in both of Huber's regimes (up to the
 * 8-direction discretisation), and the 'tv' ICNN is that FoE.
 */
beforeAll(async () => {
  await initBackend();
});

const n = 24;
const [alpha, epsilon, w, size] = [4.26e-3, 2e-4, 0.01, 5];

/** A smooth bump, 0 (to float32) within 4 pixels of the border, so 'same' padding adds nothing. */
function bump(amplitude: number): tf.Tensor {
  return tf.tidy(() => {
    const r = tf.linspace(-1, 1, n);
    const r2 = tf.add(tf.reshape(tf.square(r), [n, 1]), tf.reshape(tf.square(tf.mul(r, 1.3)), [1, n]));
    return tf.reshape(tf.mul(tf.exp(tf.mul(r2, -12)), amplitude), [1, n, n, 1]);
  });
}

/** TV-MAID's regulariser Σ_i Huber_ε(α|∇x|_i) (forward differences, as tv-problem.ts). */
function huberTv(x: tf.Tensor): number {
  return tf.tidy(() => {
    const q = tf.mul(tf.sqrt(tf.add(tf.sum(tf.square(gradient2d(x)), 3), 1e-30)), alpha);
    return tf.sum(tf.where(tf.lessEqual(q, epsilon), tf.div(tf.square(q), 2 * epsilon), tf.sub(q, epsilon / 2))).dataSync()[0];
  });
}

describe("ct-sparse-view 'tv' start", () => {
  it('FoE = α Huber_ε-TV in the quadratic and the linear regime; the ICNN = the FoE', () => {
    const before = tf.memory().numTensors;
    const gamma = tvGamma(epsilon, w);
    const V = tvFilters(size, 16, alpha, gamma);
    const foe = convexNetwork({ layers: 1, channels: 16, size, gamma, smoothing: w });
    const off = -8;
    const lines: string[] = [];
    // gain 1: the ICNN row's start (--icnnGain 1); 10: the start before (README, "ICNN: the gain")
    for (const gain of [1, 10]) {
      const omega = tvSecondLayer(size, 16, 4, gain, off);
      const icnn = convexNetwork({ layers: 2, channels: 16, outChannels: 4, size, gamma: gamma / gain, smoothing: w });
      // amplitude 1e-3: every |α∇x| < ε/5 (quadratic piece); 30: |α∇x| ≫ ε on the slopes (linear piece)
      for (const [amplitude, tolerance] of [[1e-3, 0.08], [30, 0.05]] as const) {
        const x = bump(amplitude);
        const tv = huberTv(x);
        const r = tf.tidy(() => foe.value(x, { V }).dataSync()[0]);
        const ri = tf.tidy(() => icnn.value(x, { V, omega }).dataSync()[0]);
        lines.push(`gain ${gain}, amplitude ${amplitude}: Huber-TV ${tv.toExponential(4)}, FoE ${r.toExponential(4)} (${((r / tv - 1) * 100).toFixed(2)} %), ICNN ${ri.toExponential(4)} (${((ri / r - 1) * 100).toFixed(2)} % of the FoE)`);
        // the 8 directions approximate the isotropic |∇x| (Cauchy–Crofton, linear piece) and |∇x|² (M ≈ κI,
        // quadratic piece) to a few per cent on a smooth image; forward against ±-pair differences adds O(h)
        expect(Math.abs(r / tv - 1)).toBeLessThan(tolerance);
        // the ICNN: (γ/g)ψ_w(g S + e) with S = Σ_k ψ_w(V_k x) and e ≥ 0 from the softplus(off) taps; since
        // t − w/2 ≤ ψ_w(t) ≤ t on t ≥ 0 and ψ_w is 1-Lipschitz, −(γw/2g) per pixel ≤ R_I − R_F ≤ (γ/g)Σe, and Σe ≤
        // softplus(off)·S²·C₂·ΣS (each z_k meets at most S²·C₂ taps): exact inequalities (float32 sums: 1e-6 R_F slack)
        const lower = -(n * n * gamma * w) / (2 * gain);
        const upper = (Math.log1p(Math.exp(off)) * size * size * 4 / gain) * r;
        expect(ri - r).toBeGreaterThanOrEqual(lower - 1e-6 * r);
        expect(ri - r).toBeLessThanOrEqual(upper + 1e-6 * r);
        x.dispose();
      }
      omega.dispose();
    }
    console.log(lines.join('\n'));
    V.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
