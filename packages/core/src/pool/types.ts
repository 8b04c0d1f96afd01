/**
 * The contract between a training loop and an engine that computes per-sample
 * hypergradients somewhere else (worker threads of this process, worker processes behind a
 * job queue, or this thread): a {@link SamplePool}. The loop sends θ and the indices of
 * the samples; the engine runs each sample's lower-level solve and differentiation rule,
 * keeps each sample's warm start on its side, and returns one {@link SampleOutcome} per
 * sample in the order asked; {@link reduceSamples} then sums them in that fixed order, so
 * the result does not depend on which worker ran what, or when.
 *
 * @packageDocumentation
 */
import type { Work } from '../work.js';
import type { Params } from '../params.js';

/** A tensor as plain data: what crosses a thread or a network. */
export interface PlainTensor {
  shape: number[];
  values: Float32Array;
}

/**
 * One sample's warm start as plain data: slot `x` (the sample's last solution) and the
 * strategy's own warm starts (`strategy.warmState()`: `rule.hypergradient`, the implicit
 * adjoint's q, ...), so that each sample resumes its forward and adjoint solves where it left
 * them, whichever worker runs it (the batched problem's oracle warm-starts both too).
 */
export type SampleWarm = Record<string, PlainTensor>;

/** A parameter tree as plain data. */
export type PlainParams = Record<string, PlainTensor>;

/**
 * What a pool does when a sample's solve misses its tolerance: core's
 * `onNotConverged` modes that can cross a thread (`{ fallback }` cannot: put the fallback
 * strategy in the task module instead).
 */
export type PoolPolicy = 'warn' | 'error' | 'tighten' | { tighten: { retries?: number; factor?: number } };

/** One request to a {@link SamplePool}: the same θ and accuracies for every sample. */
export interface PoolRequest {
  /** `'hypergradient'` (value and gradient) or `'value'` (forward solve and loss only). */
  kind: 'hypergradient' | 'value';
  /** θ, as tensors of the calling thread (read, not consumed). */
  theta: Params;
  /** Indices of the samples, in the order the results are summed. */
  samples: readonly number[];
  /** Inner tolerance, adjoint tolerance and caps, as in `hypergradient`. */
  tol?: number;
  linearTol?: number;
  maxIter?: number;
  linearMaxIter?: number;
  /** Warm-start each sample from its previous solution (default true). */
  warmStart?: boolean;
  /** Convergence policy applied to each sample (default `'warn'`). */
  onNotConverged?: PoolPolicy;
}

/** What one sample's job returns: plain data. */
export interface SampleOutcome {
  /** The sample's index. */
  sample: number;
  /** ℓ(x̃ᵢ, θ; dataᵢ). */
  value: number;
  /** ∇θ of that loss through x̂ᵢ(θ) (absent for `kind: 'value'`). */
  grad?: PlainParams;
  /** The strategy's bound on the gradient error (NaN when it gives none). */
  bound: number;
  /** Its bound on the value error (NaN when it gives none). */
  valueBound: number;
  work: Work;
  converged: boolean;
  status: string;
  message: string;
  residuals: { forward: number; backward?: number };
}

/**
 * An engine that computes per-sample hypergradients: {@link inlinePool} (this thread, the
 * reference), `workerPool` from `@bilevel/pool` (worker threads), `distributedPool` from
 * `@bilevel/distributed` (worker processes through a job queue).
 */
export interface SamplePool {
  readonly kind: 'sample-pool';
  /** The engine, for logs: `'inline'`, `'worker-threads'`, `'bullmq'`. */
  readonly engine: string;
  /** How many samples it can run at once. */
  readonly size: number;
  /** How many samples the task defines (indices 0 … samples − 1). */
  readonly samples: number;
  /**
   * Runs the request synchronously (the upper-level methods call their oracle
   * synchronously) and returns one outcome per sample, in the order of `request.samples`.
   * Throws, naming the sample, when a sample's job fails.
   */
  run(request: PoolRequest): SampleOutcome[];
  /** The per-sample warm starts ({@link SampleWarm}), as JSON-serialisable data (for checkpoints). */
  saveState(): unknown;
  /** Restores what {@link SamplePool.saveState} returned. */
  loadState(state: unknown): void;
  /** Stops the workers and frees what the pool holds. */
  close(): Promise<void>;
}

/** Whether `value` is a {@link SamplePool}. */
export function isSamplePool(value: unknown): value is SamplePool {
  return value != null && typeof value === 'object' && (value as { kind?: unknown }).kind === 'sample-pool' && typeof (value as SamplePool).run === 'function';
}
