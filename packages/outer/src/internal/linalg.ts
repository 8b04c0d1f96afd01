// Small dense linear algebra on plain number arrays (float64) for the derivative-free method:
// its systems have a few dozen unknowns at most, far below where tensors pay off.
// The LU is core's (luFactor, hand-written on purpose; core's dense.ts gives the measured
// reasons). mathjs's `lup` + `lusolve` (tried, 2026-12-01) were as accurate on the method's
// KKT systems (largest residual 1.4e-14 vs 1.8e-14, solutions equal to 7e-14) but 25× slower
// per factorisation + 10 solves (0.62 vs 0.024 ms, size 17), and their other rounding order
// moves the trajectories: dfo.test.ts work 659 → 771 and 1115 → 1238 (dynamic, dim 3 / 5),
// 1186 → 883 on smoothed TV, so every measured DFO figure in the READMEs would change.
import { luFactor } from '@bilevel/core';

export { luFactor };

export const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i], 0);
export const normInf = (a: number[]): number => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
export const matvec = (m: number[][], v: number[]): number[] => m.map((row) => dot(row, v));
/** sᵀMs/2 + gᵀs: the model change along s. */
export const quadraticChange = (g: number[], h: number[][], s: number[]): number => dot(g, s) + 0.5 * dot(s, matvec(h, s));
