/**
 * The line-search acceptance tests the inner solvers share (Armijo, and the approximate
 * Armijo condition of Hager & Zhang in the float32 round-off regime).
 *
 * @packageDocumentation
 */

/**
 * Backtracking acceptance test shared by the line searches.
 *
 * Accepts a trial point when the Armijo condition `Φ(x⁺) ≤ Φ(x) + c·α·φ'(0)` holds, or,
 * when a float32 noise level `noise` is given, the approximate Armijo condition of
 * Hager & Zhang: `φ'(α) ≤ (2c − 1)·φ'(0)` with `Φ(x⁺) ≤ Φ(x) + noise`. Near the solution
 * the energy difference is pure round-off (Φ of a 128×128 image is ~10² with an error of
 * ~10⁻³, while the decrease is ~10⁻⁶), but directional derivatives are still accurate, and
 * on a quadratic the two conditions are identical. Callers pass `noise` only when the
 * decrease the first trial predicts is itself below it ({@link lineSearchNoise}): a
 * gradient that disagrees with the energy then still fails the line search, instead of
 * creeping along in steps too small to measure.
 *
 * @param value - Φ(x).
 * @param trialValue - Φ(x + α d).
 * @param slope - φ'(0) = ⟨∇Φ(x), d⟩ (negative).
 * @param trialSlope - φ'(α) = ⟨∇Φ(x + α d), d⟩, or undefined when not computed.
 * @param alpha - step length.
 * @param c - sufficient-decrease constant.
 * @param noise - round-off level of Φ when the round-off regime applies, else null.
 */
export function acceptStep(
  value: number, trialValue: number, slope: number, trialSlope: number | undefined, alpha: number, c: number, noise: number | null,
): boolean {
  if (!Number.isFinite(trialValue)) return false;
  if (trialValue <= value + c * alpha * slope) return true;
  if (noise == null || trialValue > value + noise) return false;
  if (trialSlope === undefined) return true;
  return trialSlope <= (2 * c - 1) * slope;
}

/** Unit round-off of float32. */
export const EPS32 = 1.1920929e-7;

/**
 * The round-off level of an energy Φ summed over `size` terms, `max(1e-6, ε₃₂√size)·|Φ|`
 * (a sum of n float32 terms has a random-walk error of about ε₃₂√n relative), if the
 * decrease `predictedDecrease = α|φ'(0)|` the first trial predicts is below it; else null,
 * and the line search uses the plain Armijo test.
 */
export function lineSearchNoise(value: number, predictedDecrease: number, size: number): number | null {
  const noise = Math.max(1e-6, EPS32 * Math.sqrt(size)) * Math.max(Math.abs(value), 1e-30);
  return predictedDecrease <= noise ? noise : null;
}
