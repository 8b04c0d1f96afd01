/**
 * Ours against ours: the HVP (one-shot, and per CG iteration) over our own gradient, measured in
 * interleaved rounds like the peers (rounds.ts): in each round the gradient, the one-shot HVP and
 * one application of the prepared Hessian run one block of calls each, the order alternating, so
 * the three see the same minutes of the host and the per-round ratio cancels drift. Before, the
 * ratio was read off two separate interleaved measurements (the gradient's against PyTorch, then
 * the HVP's) taken minutes apart, and flipped between runs (1.13 / 1.51 at batch 1).
 */
import type { tf } from '@bilevel/core';
import { block, settle } from './ours.js';
import { alternate, ratioOfRounds, median, type Ratio } from './rounds.js';

/** The three calls compared, each returning tensors that `settle` reads and frees. */
export interface OwnCalls { gradient: () => tf.Tensor[]; hvp: () => tf.Tensor[]; 'hvp in CG': () => tf.Tensor[] }

/** Per-call CPU ms (median of all calls) of each op, and the two ratios over the gradient. */
export interface OwnRatios { ms: Record<keyof OwnCalls, number>; hvp: Ratio; cg: Ratio }

/**
 * Times the three calls in `rounds` interleaved rounds of `reps` calls each (after one warm-up block of 3).
 *
 * @returns CPU ms per op and the HVP / gradient ratios (median over rounds, ranges, per-round values).
 */
export async function ownRatios(calls: OwnCalls, rounds: number, reps: number): Promise<OwnRatios> {
  const names = ['gradient', 'hvp', 'hvp in CG'] as const;
  for (const n of names) block(calls[n], 3, settle);
  const [g, h, c] = await alternate(names.map((n) => ({ block: (k: number) => block(calls[n], k, settle) })), rounds, reps);
  const cpu = (bs: typeof g) => median(bs.flatMap((b) => b.cpuMs));
  return { ms: { gradient: cpu(g), hvp: cpu(h), 'hvp in CG': cpu(c) }, hvp: ratioOfRounds(h, g), cg: ratioOfRounds(c, g) };
}
