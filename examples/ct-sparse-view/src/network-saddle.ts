/**
 * The FoE (35) / ICNN (33) saddle problems of the example as the FoE and ICNN rows train and score them
 * (and `scripts/` measure them): `convexNetworkSaddle` of @bilevel/imaging on Â = A/‖A‖
 * (`scaledOperator`, with its exact absoluteSums for the diagonal steps), g = (μ/2)‖x − x₀‖² with the
 * anchor x₀ = the FBP image (`--netAnchor fbp`, as TV-MAID's `--tvAnchor fbp`) or 0, and the start θ₀:
 * `--netInit tv` (the 8-direction Huber-TV of `tv-filters.ts` at TV-MAID's α and Huber ε, so the untrained
 * network is TV-MAID's model) or `random`.
 */
import { tf, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { convexNetworkSaddle, scaledOperator } from '@bilevel/imaging';
import type { ConvexNetworkSaddle } from '@bilevel/imaging';
import type { PiggybackOptions } from '@bilevel/piggyback';
import type { CtContext } from './context.js';
import { tvFilters, tvGamma, tvSecondLayer } from './methods/tv-filters.js';
import { withFilterMeanScale, meanScaled, meanUnscaled } from './filter-mean.js';
import type { RowSmoothing } from './smoothing.js';

/** Data of the network saddles: û = u/‖A‖, the phantoms, and the FBP images (the anchor). */
export interface NetworkData { y: tf.Tensor; t: tf.Tensor; fbp: tf.Tensor }

/** Flags of the FoE / ICNN rows (merged into main.ts's). */
export const CONVEX_NETWORK_FLAGS = {
  channels: 16, // first-layer filters (paper: 16, FoE and ICNN)
  outChannels: 4, // ICNN second-layer channels (paper: 4)
  filterSize: 5, // S (paper: 5)
  gamma: 0.2, // γ of γψ_w for the 'random' start (fixed; θ = filters only, as the paper's 400 / 2,000 parameters); the 'tv' start sets its own
  smoothing: 0.01, // w of ψ_w (paper: 0.01)
  filterScale: 0.05, // norm of each initial first-layer filter (± pairs: a smoothed ℓ1 analysis prior), 'random' start
  zWeight: 1e-4, // ε_z (ICNN): (ε_z/2)‖z‖² in g, so that the bound is defined (0.01 before the 'tv' start: next to γ ≈ 3e-3 it added a quadratic prior on ψ(Vx))
  dualSmoothing: 0.01, // ε₂ (ICNN): δ_C → dist²_C/(2ε₂), so that the bound is defined
  netInit: 'tv', // FoE start: 'tv' (8-direction Huber-TV at --netInitAlpha, the row's Huber ε of --epsilon, tv-filters.ts) or 'random' (± pairs of random filters)
  icnnInit: 'tv', // the ICNN's start: 'tv' (first layer as the FoE's, W = --icnnGain at the centre taps into output 0, softplus(--icnnOff) elsewhere) or 'random'
  netInitAlpha: 'tv-maid', // α of the 'tv' start: 'tv-maid' (TV-MAID's learned α of this run; 3.0285e-3, its value at the defaults, if tv-maid did not run) or a number
  icnnGain: 1, // the 'tv' ICNN's centre taps W (γ_I = γ_FoE / gain); 10 (before) is G× sharper in its outer ψ and contracts ≈ 8× slower (README, "ICNN: the gain")
  icnnOff: -8, // ω of the other taps of the 'tv' ICNN (W = softplus(−8) ≈ 3.4e-4)
  netAnchor: 'fbp', // x₀ of g = (μ/2)‖x − x₀‖²: 'fbp' (as TV-MAID) or 'zero' (the rows before)
  netPrecondition: 'diagonal', // PDHG steps: 'diagonal' (Pock & Chambolle on Â's and the filters' absoluteSums) or 'false' (constant)
  // FoE only: MAID's variable φ with V = (φ − mean) + c·mean per filter (filter-mean.ts): 1 = V itself, 0 < c < 1 a
  // preconditioner on the filters' means (the stiff directions), 0 = zero-mean filters
  netMeanScale: 0.2,
  netIterations: 30, // MAID iterations per network (the budget that ends a run is --netWork or relativeGradTol)
  netWork: 10000, // MAID's budget of PDHG + adjoint iterations for the FoE (checked inside an iteration too)
  icnnWork: 6000, // the same for the ICNN
  netTol0: 1e-3, // MAID ε₀ = δ₀ for the networks
  netStep0: 1e-2, // MAID α₀ for the FoE (on φ, --netMeanScale)
  icnnStep0: 3e-3, // MAID α₀ for the ICNN (1e-3: 3 accepted steps to loss 0.9604, 28.45 dB; 3e-3: 0.9547, 28.50 dB; README, "Measured")
  netEvalTol: 1e-4, // held-out solves: PDHG residual tolerance
  netEvalMaxIter: 2000, // held-out solves: PDHG iteration cap
  // piggyback's adaptiveSteps on top of the steps: 'balance' (residual balancing of σ/τ), 'search' or 'false'
  adaptiveSteps: 'balance',
};

/**
 * TV-MAID's learned α at the defaults (README, "TV-MAID and FoE at the defaults now"; 4.26e-3 at the old μ 0.01,
 * ε 2e-4): the 'tv' start when tv-maid did not run, so that `--methods foe` or `--methods icnn` alone starts where
 * the default run's row starts.
 */
export const TV_MAID_ALPHA = 0.003028481133303217;

/** What {@link networkSetup} returns; `dispose()` frees the data and θ₀. */
export interface NetworkSetup {
  saddle: ConvexNetworkSaddle<NetworkData>;
  theta0: Params;
  train: NetworkData;
  test: NetworkData;
  /** piggyback options for the solves (steps). */
  steps: PiggybackOptions;
  /** The start and its α (for the rows' labels), and μ_g of g. */
  start: { init: string; alpha?: number; gamma: number; mu: number };
  dispose(): void;
}

function choice(f: CtContext['flags'], key: string, allowed: string[]): string {
  const v = String(f[key] ?? (CONVEX_NETWORK_FLAGS as Record<string, unknown>)[key]);
  if (!allowed.includes(v)) throw new Error(`ct-sparse-view: --${key} must be ${allowed.join(' or ')}, got '${v}'.`);
  return v;
}

/**
 * The FoE (layers 1) or ICNN (layers 2) saddle, data and start for the example's flags.
 *
 * @param ctx - the example's context (its flags give the architecture, start, anchor and steps).
 * @param layers - 1 (FoE) or 2 (ICNN).
 * @param smoothing - μ of g and the Huber ε the 'tv' start imitates (the rows: `rowSmoothing`, smoothing.ts).
 * @returns the saddle, θ₀, the data and the steps; the caller calls `dispose()`.
 */
export function networkSetup(ctx: CtContext, layers: 1 | 2, smoothing: RowSmoothing): NetworkSetup {
  const f = ctx.flags;
  const num = (k: keyof typeof CONVEX_NETWORK_FLAGS) => Number(f[k] ?? CONVEX_NETWORK_FLAGS[k]);
  const init = choice(f, layers === 2 ? 'icnnInit' : 'netInit', ['tv', 'random']);
  const anchor = choice(f, 'netAnchor', ['fbp', 'zero']);
  const precondition = choice(f, 'netPrecondition', ['diagonal', 'false']);
  const adaptive = choice(f, 'adaptiveSteps', ['balance', 'search', 'false']);
  const w = num('smoothing');
  const { mu, epsilon } = smoothing;
  if (!(mu > 0) || !(epsilon > 0)) throw new Error(`ct-sparse-view networkSetup: μ and ε must be > 0 (the piggyback bound needs them), got μ = ${mu}, ε = ${epsilon}.`);
  let alpha: number | undefined;
  let gamma = num('gamma');
  if (init === 'tv') {
    const a = String(f.netInitAlpha ?? CONVEX_NETWORK_FLAGS.netInitAlpha);
    alpha = a === 'tv-maid' ? (ctx.shared.tvAlpha ?? TV_MAID_ALPHA) : Number(a);
    if (!(alpha > 0)) throw new Error(`ct-sparse-view: --netInitAlpha must be 'tv-maid' or a number > 0, got '${a}'.`);
    // the FoE's γ that matches Huber_ε (tv-filters.ts); the ICNN carries it as γ_I·gain
    gamma = tvGamma(epsilon, w) / (layers === 2 ? num('icnnGain') : 1);
  }
  const operator = scaledOperator(ctx.A, 1 / ctx.scale, { normBound: 1, name: 'A/‖A‖' });
  const data = (set: CtContext['train']): NetworkData => {
    if (set.fbp == null) throw new Error('ct-sparse-view: the network rows need the sets\' FBP images (ctContext makes them).');
    return { y: tf.div(set.u, ctx.scale), t: set.t, fbp: set.fbp };
  };
  const saddle = convexNetworkSaddle<NetworkData>({
    operator, operatorNorm: 1, layers, channels: num('channels'), outChannels: num('outChannels'), size: num('filterSize'),
    gamma, smoothing: w, scale: num('filterScale'), mu, zWeight: num('zWeight'), dualSmoothing: num('dualSmoothing'),
    ...(anchor === 'fbp' ? { anchor: (d: NetworkData) => d.fbp } : {}),
  });
  const theta0 = saddle.theta;
  if (init === 'tv') {
    // the FoE's filters at γ_FoE; the ICNN's first layer the same, its second ≈ gain·(sum over channels)
    const foeGamma = gamma * (layers === 2 ? num('icnnGain') : 1);
    theta0.V.dispose();
    theta0.V = tvFilters(num('filterSize'), num('channels'), alpha!, foeGamma);
    if (layers === 2) {
      theta0.omega.dispose();
      theta0.omega = tvSecondLayer(num('filterSize'), num('channels'), num('outChannels'), num('icnnGain'), num('icnnOff'));
    }
  }
  // FoE: MAID's variable φ (filter-mean.ts); θ₀ = P⁻¹V₀, or V₀'s zero-mean part for c = 0
  const meanScale = num('netMeanScale');
  if (layers === 1 && meanScale !== 1) {
    const v0 = theta0.V;
    theta0.V = meanScale > 0 ? meanUnscaled(v0, meanScale) : meanScaled(v0, 0);
    v0.dispose();
    saddle.problem = withFilterMeanScale(saddle.problem, meanScale);
  }
  const train = data(ctx.train);
  const test = data(ctx.test);
  return {
    saddle, theta0, train, test,
    steps: { precondition: precondition === 'diagonal' ? 'diagonal' : false, adaptiveSteps: adaptive === 'false' ? false : (adaptive as 'balance' | 'search') },
    start: { init, alpha, gamma, mu },
    dispose: () => {
      disposeParams(theta0);
      tf.dispose([train.y, test.y]);
    },
  };
}
