/**
 * Config schema, part 2: the model (the regulariser whose parameters θ are learned). A new
 * model (TGV, …) is one more entry of {@link MODEL_SCHEMAS} plus its builder in
 * `internal/build/models.ts`.
 *
 * @packageDocumentation
 */
import { z } from 'zod';

const xi = (d: number) => z.number().min(0).default(d).describe('weight ξ of an extra (ξ/2)‖x‖², which makes the energy strongly convex for any task');
const filterInit = z.enum(['dct', 'random']).default('dct').describe('initial filters: the lowest-frequency DCT atoms, or zero-mean random ones');

/** Smoothed TV `α Σ √(|∇x|² + ν²)`, θ = (log α[, log ν]). */
export const tvModel = z.strictObject({
  kind: z.literal('tv'),
  alpha: z.number().positive().default(0.05).describe('initial weight α'),
  nu: z.number().positive().default(0.05).describe('initial smoothing ν'),
  learnNu: z.boolean().default(true).describe('learn ν as well as α'),
  xi: xi(0),
}).describe('smoothed total variation');

/** Huber TV, θ = log α (the threshold ν is fixed: not differentiable). */
export const huberTvModel = z.strictObject({
  kind: z.literal('huber-tv'),
  alpha: z.number().positive().default(0.05).describe('initial weight α'),
  nu: z.number().positive().default(0.05).describe('Huber threshold ν (fixed)'),
  xi: xi(0),
}).describe('Huber total variation');

/** The (Ex) filter model of Crockett & Fessler (2022), θ = (filters, β₀, β). */
export const exModel = z.strictObject({
  kind: z.literal('ex'),
  filters: z.int().min(1).max(64).default(8).describe('number of filters'),
  size: z.int().min(2).max(15).default(5).describe('filter side'),
  epsilon: z.number().positive().default(0.01).describe('smoothing ε of √(z² + ε²)'),
  beta0: z.number().default(-4.6).describe('initial overall log-weight β₀'),
  init: filterInit,
  xi: xi(0),
}).describe('(Ex) filter model: e^{β₀} Σ_k e^{β_k} Σ √((c_k ∗ x)² + ε²)');

/** Fields of Experts (Roth & Black), θ = (filters, log α, log ν). */
export const foeModel = z.strictObject({
  kind: z.literal('foe'),
  filters: z.int().min(1).max(64).default(8).describe('number of filters (experts)'),
  size: z.int().min(2).max(15).default(5).describe('filter side'),
  alpha: z.number().positive().default(0.001).describe('initial weight α of every expert'),
  nu: z.number().positive().default(0.1).describe('initial scale ν of every expert'),
  expert: z.enum(['student-t', 'charbonnier']).default('charbonnier').describe("expert ρ: 'student-t' log(1 + z²/ν²) (non-convex) or 'charbonnier' √(z² + ν²) − ν (convex)"),
  init: filterInit,
  zeroMean: z.boolean().default(true).describe('keep the filters zero-mean (projection after every step)'),
  nuMin: z.number().min(0).default(0.03).describe('lower bound on ν (projection after every step)'),
  xi: xi(0),
}).describe('Fields of Experts');

/** An input-convex neural network regulariser, θ = its weights. */
export const icnnModel = z.strictObject({
  kind: z.literal('icnn'),
  layers: z.int().min(1).max(8).default(2).describe('hidden layers'),
  channels: z.int().min(1).max(64).default(8).describe('channels per layer'),
  size: z.int().min(2).max(15).default(5).describe('convolution side'),
  xi: xi(0.01),
}).describe('input-convex neural network');

/** Second-order total generalised variation TGV², θ = (log α, log β), over the field z = (u, w). */
export const tgvModel = z.strictObject({
  kind: z.literal('tgv'),
  alpha: z.number().positive().default(0.05).describe('initial first-order weight α'),
  beta: z.number().positive().default(1).describe('initial ratio β of the second-order to the first-order weight'),
  nu: z.number().positive().default(0.01).describe('smoothing ν of both norms (fixed)'),
  xi: xi(0.001).describe('weight ξ of (ξ/2)‖z‖²: TGV² is not uniformly convex in w, so ξ > 0 gives the μ = ξ that MAID and DFO need'),
}).describe('total generalised variation TGV² (Bredies, Kunisch & Pock 2010)');

/** Every model, in the order `--help` lists them. */
export const MODEL_SCHEMAS = [tvModel, huberTvModel, tgvModel, exModel, foeModel, icnnModel] as const;

/** The `model` field: one of {@link MODEL_SCHEMAS}, chosen by `kind`. */
export const modelSchema = z.discriminatedUnion('kind', MODEL_SCHEMAS).describe('the regulariser whose parameters are learned');

/** A validated model. */
export type ModelConfig = z.output<typeof modelSchema>;
