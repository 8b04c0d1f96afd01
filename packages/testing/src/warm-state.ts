/**
 * The check that a strategy's warm starts survive as plain data: `warmState()` of a strategy
 * after one call, loaded into a fresh strategy, must make that strategy's next call equal the
 * original strategy's next call bit for bit (shared by the implicit and piggyback tests).
 *
 * @packageDocumentation
 */
import type { Params, Strategy } from '@bilevel/core';

/** A strategy with plain-data warm starts. */
export type WarmStrategy = Strategy & { warmState(): unknown; loadWarmState(s: never): void; dispose(): void };
/** One hypergradient call of a strategy at θ shifted by `shift`. */
export type WarmCall = (s: Strategy, shift: number) => { grad: Params; work: { innerIterations: number; linearIterations: number }; dispose(): void };

const values = (p: Params) => Object.fromEntries(Object.entries(p).map(([k, t]) => [k, Array.from(t.dataSync())]));

/**
 * Two calls on one strategy vs. one call, `warmState()` → a fresh strategy's
 * `loadWarmState()`, one call; and a cold strategy's call for comparison.
 *
 * @param make - a fresh strategy.
 * @param call - one call at θ + shift.
 * @returns the saved state, the resumed call (`same`) and the original's second call
 *   (`original`) as plain gradients and [inner, linear] work, and the cold call's work.
 * @example
 * ```ts
 * const r = continuesExactly(() => implicit({ inner: lbfgs(), linear: cg() }), call);
 * expect(r.same).toEqual(r.original);
 * ```
 */
export function continuesExactly(make: () => WarmStrategy, call: WarmCall) {
  const a = make();
  call(a, 0).dispose();
  const saved = a.warmState() as Record<string, { shape: number[]; values: Float32Array }>;
  const second = call(a, 0.01);
  const b = make();
  b.loadWarmState(saved as never);
  const again = call(b, 0.01);
  const out = { saved, same: { grad: values(again.grad), work: [again.work.innerIterations, again.work.linearIterations] }, original: { grad: values(second.grad), work: [second.work.innerIterations, second.work.linearIterations] } };
  const cold = make();
  const fresh = call(cold, 0.01);
  const coldWork = [fresh.work.innerIterations, fresh.work.linearIterations];
  [second, again, fresh].forEach((r) => r.dispose());
  [a, b, cold].forEach((s) => s.dispose());
  return { ...out, coldWork };
}
