/**
 * A TV-like starting point for the first layer V of the FoE / ICNN (`--netInit tv`): ± pairs of
 * first differences in 8 directions (offsets (1,0), (2,1), (1,1), (1,2), (0,1), (−1,2), (−1,1), (−2,1)
 * inside the S×S filter), weighted so that γ Σ_d ψ_w(V_d x) + ψ_w(−V_d x) ≈ γ Σ_d c_d |D_d x| is
 * a discretised α TV(x) (Cauchy–Crofton: ∫₀^π |∇x · n(φ)| dφ = 2|∇x|, so c_d = α Δφ_d / (2 γ |o_d|) with
 * Δφ_d the angular cell of direction d). With α the TV row's α this FoE starts as (smoothed,
 * 8-direction) TV; bilevel learning then moves the filters from there. Channels beyond 16 repeat
 * the directions at 1/10 of the weight.
 */
import { tf } from '@bilevel/core';

const OFFSETS: Array<[number, number]> = [[1, 0], [2, 1], [1, 1], [1, 2], [0, 1], [-1, 2], [-1, 1], [-2, 1]];

/** The angular cell Δφ_d of each direction on the half circle [0, π). */
function cells(): number[] {
  const angles = OFFSETS.map(([dx, dy]) => Math.atan2(dy, dx));
  return angles.map((a, i) => {
    const prev = i === 0 ? angles[angles.length - 1] - Math.PI : angles[i - 1];
    const next = i === angles.length - 1 ? angles[0] + Math.PI : angles[i + 1];
    return (next - prev) / 2;
  });
}

/**
 * γ of the FoE whose {@link tvFilters} start matches Huber-TV with parameter ε (the TV rows' α Huber_ε(∇x),
 * quadratic α²|∇x|²/(2ε) below |∇x| = ε/α) in both regimes: a direction's pair gives γ Huber_w(c_d D_d x),
 * linear with slope γc_d = α Δφ_d/(2|o_d|) (Cauchy–Crofton, fixed by tvFilters), quadratic (γc_d)²(D_d x)²/(2γw).
 * With D_d x ≈ o_d·∇x the quadratic parts sum to α² ∇xᵀM∇x/(2γw), M = Σ_d (Δφ_d/2)² o_d o_dᵀ/|o_d|² ≈ κI,
 * κ = tr M / 2 = Σ_d Δφ_d²/8 (0.157 for these cells); γ = κε/w makes it α²|∇x|²/(2ε). A direction's own
 * threshold |D_d x| = w/c_d = κε/(γc_d) is then 0.68 ε/α along the axes: close to, not equal to, the isotropic ε/α.
 */
export function tvGamma(epsilon: number, smoothing: number): number {
  const kappa = cells().reduce((s, c) => s + c * c, 0) / 8;
  return (kappa * epsilon) / smoothing;
}

/**
 * θ.omega of the ICNN's second layer W = softplus(ω) `[S, S, C₁, C₂]` for the TV-like start: `gain` at the
 * centre taps from every first-layer channel into output channel 0, softplus(`off`) ≈ e^off elsewhere. Then
 * γ_I ψ_w(W ψ_w(Vx)) ≈ γ_I·gain·Σ_k ψ_w(V_k x) − γ_I w/2 where the sum ≥ w/gain: the FoE with γ = γ_I·gain, up to
 * the outer ψ_w's quadratic piece and the e^off taps (measured in the README, "TV start").
 */
export function tvSecondLayer(size: number, inChannels: number, outChannels: number, gain: number, off: number): tf.Tensor {
  const values = new Float32Array(size * size * inChannels * outChannels).fill(off);
  const c = Math.floor(size / 2);
  // softplus⁻¹(gain) = log(e^gain − 1), written so that it does not overflow for large gains
  const on = gain + Math.log(-Math.expm1(-gain));
  for (let k = 0; k < inChannels; k++) values[((c * size + c) * inChannels + k) * outChannels] = on;
  return tf.tensor4d(values, [size, size, inChannels, outChannels]);
}

/**
 * V `[S, S, 1, channels]` of the TV-like start.
 *
 * @param size - S (≥ 5, so that the offsets of length √5 fit around the centre).
 * @param channels - number of filters (16: the 8 directions, ±).
 * @param alpha - the TV weight the start imitates.
 * @param gamma - γ of the network (R = γ Σ ψ_w(V x) for the FoE).
 * @returns the filters (the caller disposes them).
 */
export function tvFilters(size: number, channels: number, alpha: number, gamma: number): tf.Tensor {
  if (size < 5) throw new Error(`ct-sparse-view: --netInit tv needs --filterSize ≥ 5 (offsets of length √5), got ${size}.`);
  const cell = cells();
  const values = new Float32Array(size * size * channels);
  const c = Math.floor(size / 2);
  for (let k = 0; k < channels; k++) {
    const d = Math.floor(k / 2) % OFFSETS.length;
    const sign = k % 2 === 0 ? 1 : -1;
    const repeat = Math.floor(k / (2 * OFFSETS.length));
    const [dx, dy] = OFFSETS[d];
    const weight = (sign * alpha * cell[d]) / (2 * gamma * Math.hypot(dx, dy)) * (repeat === 0 ? 1 : 0.1);
    // V[row, col, 0, k]: −w at the centre, +w at the offset (row = y, col = x)
    values[(c * size + c) * channels + k] -= weight;
    values[((c + dy) * size + (c + dx)) * channels + k] += weight;
  }
  return tf.tensor4d(values, [size, size, 1, channels]);
}
