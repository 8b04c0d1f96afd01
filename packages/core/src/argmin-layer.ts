import { tf } from './tf.js';
import type { Params } from './params.js';
import type { Problem } from './problem.js';
import type { Strategy } from './strategy.js';
import type { ArgminOptions, ArgminFunction } from './argmin.js';
import { argmin } from './argmin.js';

/** A trainable parameter of an {@link ArgminLayer}: its shape and initial value. */
export interface ArgminWeightSpec {
  shape: number[];
  /** Initial value: one number for every entry, or all entries. */
  initial: number | number[];
}

/** What an {@link ArgminLayer} is built from. */
export interface ArgminLayerArgs extends ArgminOptions {
  /**
   * The lower-level problem. Its data is the layer input `y` (a tensor, batch first), its θ
   * the layer's weights, and its x is shaped like `y` (give it `init: (_θ, y) => y.clone()`).
   * Or the key of a problem registered by {@link registerArgminProblem} (needed to reload a saved model).
   */
  problem: Problem<tf.Tensor> | string;
  /** Strategy with solve/vjpSolution; default: the one registered with the problem key. */
  strategy?: Strategy;
  /** The trainable θ. */
  weights: Record<string, ArgminWeightSpec>;
  /** Layer name. */
  name?: string;
  /** Whether θ is trainable (default true). */
  trainable?: boolean;
}

const registry = new Map<string, { problem: Problem<tf.Tensor>; strategy: Strategy }>();

/**
 * Registers a problem (and its strategy) under a key, so that {@link ArgminLayer}s built with
 * `problem: key` can be saved with `model.save` and restored with `tf.loadLayersModel`.
 */
export function registerArgminProblem(key: string, problem: Problem<tf.Tensor>, strategy: Strategy): void {
  if (typeof key !== 'string' || key.length === 0) throw new Error('registerArgminProblem: key must be a non-empty string.');
  registry.set(key, { problem, strategy });
}

/**
 * A `tf.layers` layer whose output is the solution of an optimisation problem,
 * `y ↦ x̂(θ; y) = argmin_x Φ(x; θ, y)`, with θ the layer's trainable weights.
 *
 * Inside `model.fit` the gradient of the training loss with respect to θ comes from the
 * strategy (implicit: one adjoint solve per step, see {@link argmin}); with
 * `differentiateData` (default true here) it also flows into the input, so the layer can
 * sit after other trainable layers.
 *
 * @example
 * ```ts
 * registerArgminProblem('tikhonov', problem, implicit({ inner: lbfgs(), linear: cg() }));
 * const model = tf.sequential({ layers: [new ArgminLayer({ problem: 'tikhonov', weights: { logAlpha: { shape: [], initial: 0 } }, inputShape: [16] })] });
 * model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
 * await model.fit(noisy, clean, { epochs: 10 });
 * ```
 */
export class ArgminLayer extends tf.layers.Layer {
  static className = 'ArgminLayer';
  private readonly problemKey?: string;
  private readonly specs: Record<string, ArgminWeightSpec>;
  private readonly solveOptions: ArgminOptions;
  private readonly solveFn: ArgminFunction<tf.Tensor>;
  private readonly thetaWeights: Record<string, tf.LayerVariable> = {};

  constructor(args: ArgminLayerArgs & { inputShape?: number[]; batchInputShape?: number[] }) {
    super({ name: args.name, trainable: args.trainable ?? true, inputShape: args.inputShape, batchInputShape: args.batchInputShape } as never);
    const where = 'ArgminLayer';
    let problem: Problem<tf.Tensor>;
    let strategy = args.strategy;
    if (typeof args.problem === 'string') {
      const entry = registry.get(args.problem);
      if (entry == null) throw new Error(`${where}: no problem registered under '${args.problem}'; call registerArgminProblem('${args.problem}', problem, strategy) first.`);
      problem = entry.problem;
      strategy = strategy ?? entry.strategy;
      this.problemKey = args.problem;
    } else {
      problem = args.problem;
    }
    if (problem == null || problem.kind !== 'energy') throw new Error(`${where}: option 'problem' must come from defineProblem(...) or be a registered key.`);
    if (strategy == null) throw new Error(`${where}: option 'strategy' is required (e.g. implicit({ inner: lbfgs(), linear: cg() })).`);
    if (args.weights == null || Object.keys(args.weights).length === 0) {
      throw new Error(`${where}: option 'weights' must name at least one trainable parameter, e.g. { logAlpha: { shape: [], initial: 0 } }.`);
    }
    for (const [k, spec] of Object.entries(args.weights)) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (Array.isArray(spec.initial) ? spec.initial.length !== size : !Number.isFinite(spec.initial)) {
        throw new Error(`${where}: weights.${k}.initial must be a finite number or ${size} numbers for shape [${spec.shape}].`);
      }
    }
    this.specs = args.weights;
    this.solveOptions = {
      tol: args.tol, maxIter: args.maxIter, linearTol: args.linearTol, linearMaxIter: args.linearMaxIter,
      onNotConverged: args.onNotConverged, differentiateData: args.differentiateData ?? true,
    };
    this.solveFn = argmin(problem, strategy, this.solveOptions);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    void inputShape;
    for (const key of Object.keys(this.specs).sort()) {
      const spec = this.specs[key];
      const initializer = Array.isArray(spec.initial)
        ? { apply: (shape: number[]) => tf.tensor(spec.initial as number[], shape, 'float32') }
        : tf.initializers.constant({ value: spec.initial });
      this.thetaWeights[key] = this.addWeight(key, spec.shape, 'float32', initializer as never, undefined, true);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const y = Array.isArray(inputs) ? inputs[0] : inputs;
    const theta: Params = {};
    for (const key of Object.keys(this.thetaWeights)) theta[key] = this.thetaWeights[key].read();
    return this.solveFn(theta, y);
  }

  /** θ as a plain tree (read-only views of the layer's variables). */
  theta(): Params {
    const out: Params = {};
    for (const key of Object.keys(this.thetaWeights)) out[key] = this.thetaWeights[key].read();
    return out;
  }

  override getConfig(): tf.serialization.ConfigDict {
    if (this.problemKey == null) {
      throw new Error("ArgminLayer.getConfig: build the layer with problem: '<key>' (see registerArgminProblem) to save it; a problem object cannot be serialised.");
    }
    return {
      ...super.getConfig(),
      problem: this.problemKey,
      weights: this.specs as unknown as tf.serialization.ConfigDictValue,
      ...Object.fromEntries(Object.entries(this.solveOptions).filter(([, v]) => v !== undefined)),
    } as tf.serialization.ConfigDict;
  }
}

tf.serialization.registerClass(ArgminLayer);
