/**
 * The playground's choices and defaults, free of library imports so that the page's own
 * bundle stays small (the library is bundled into the worker only).
 */

/** Lower-level models the playground can learn. */
export const MODELS = { tv: 'smoothed TV, θ = (log α, log ν)', foe: 'Fields of Experts, 8 filters 5×5 (differences + DCT, Charbonnier)' } as const;
/** Hypergradient strategies, one package each. */
export const STRATEGIES = {
  implicit: 'implicit (L-BFGS + CG)',
  unrolled: 'unrolled (30 gradient steps, √T checkpoints)',
  equilibrium: 'equilibrium (Anderson + implicit backward)',
  jfb: 'Jacobian-free (L-BFGS, one step)',
} as const;
/** Upper-level methods of `@bilevel/outer`. */
export const METHODS = { maid: 'MAID (certified bound, adaptive ε, δ)', adam: 'Adam (fixed accuracy)' } as const;

/** A playground run, as the page sends it to the worker. */
export interface PlaygroundConfig {
  model: keyof typeof MODELS;
  strategy: keyof typeof STRATEGIES;
  method: keyof typeof METHODS;
  /** Noise level σ (image range [0, 1]). */
  sigma: number;
  /** Side of the square training crop. */
  crop: number;
  /** Upper-level iterations. */
  iterations: number;
  /** Seed of the noise. */
  seed: number;
}

/** Defaults: a run that learns TV in a few seconds on wasm. */
export const PLAYGROUND_DEFAULTS: Readonly<PlaygroundConfig> = Object.freeze({
  model: 'tv', strategy: 'implicit', method: 'maid', sigma: 0.1, crop: 48, iterations: 15, seed: 0,
});

/** A gray image, row-major values in [0, 1]. */
export interface GrayImage {
  width: number;
  height: number;
  values: Float32Array;
}

