/**
 * Builders of the models: the lower-level problem `½‖Ax − y‖² + R(x; θ) + (ξ/2)‖x‖²` from
 * `@bilevel/imaging`, the initial θ, and any projection applied after each step. One entry
 * per `model.kind` of the config schema (`config/models.ts`).
 */
import { tf } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { tvDenoisingProblem, filterModelProblem, foeProblem, icnnProblem, tgvProblem, tgvImage, lowFrequencyDctFilters, randomFilters } from '@bilevel/imaging';
import type { LinearOperator, ReconstructionProblem } from '@bilevel/imaging';
import { box, projection, composeProximal } from '@bilevel/outer';
import type { Proximal } from '@bilevel/outer';
import { UsageError } from '../../errors.js';
import type { ModelConfig } from '../../config/models.js';

/** A model ready to train. */
export interface BuiltModel {
  built: ReconstructionProblem;
  /** Projection after every step (constraints), if any. */
  project: Proximal | undefined;
  /** The θ leaf holding convolution filters `[s, s, 1, k]`, for the filter PNG. */
  filterKey: string | undefined;
  /** The image of a lower-level variable (TGV's is z = (u, w); the others' is the image itself). A new tensor. */
  image?: (x: tf.Tensor) => tf.Tensor;
}

type Builder<K extends ModelConfig['kind']> = (model: Extract<ModelConfig, { kind: K }>, operator: LinearOperator | undefined, seed: number) => BuiltModel;

const withOperator = (operator: LinearOperator | undefined, xi: number) => ({ ...(operator != null ? { operator } : {}), xi });

function initialFilters(field: string, init: 'dct' | 'random', size: number, count: number, seed: number): tf.Tensor4D {
  if (init === 'random') return randomFilters({ size, count, seed });
  if (count > size * size - 1) throw new UsageError(`${field}: got ${count}; DCT initial filters of side ${size} give at most ${size * size - 1}: lower it, raise model.size, or use model.init "random".`);
  return lowFrequencyDctFilters(size, count);
}

/** Filters projected onto zero mean (fresh tensors: a projection's input may be disposed after it). */
function zeroMeanFilters(theta: Params): Params {
  const out: Params = {};
  for (const [k, t] of Object.entries(theta)) out[k] = k === 'filters' ? tf.tidy(() => tf.sub(t, tf.mean(t, [0, 1, 2], true))) : t.clone();
  return out;
}

const BUILDERS: { [K in ModelConfig['kind']]: Builder<K> } = {
  tv: (m, A) => ({ built: tvDenoisingProblem({ kind: 'smoothed', alpha: m.alpha, nu: m.nu, learnNu: m.learnNu, ...withOperator(A, m.xi) }), project: undefined, filterKey: undefined }),
  'huber-tv': (m, A) => ({ built: tvDenoisingProblem({ kind: 'huber', alpha: m.alpha, nu: m.nu, ...withOperator(A, m.xi) }), project: undefined, filterKey: undefined }),
  ex: (m, A, seed) => {
    const filters = initialFilters('model.filters', m.init, m.size, m.filters, seed);
    try {
      return { built: filterModelProblem({ filters, epsilon: m.epsilon, beta0: m.beta0, ...withOperator(A, m.xi) }), project: undefined, filterKey: 'filters' };
    } finally {
      filters.dispose();
    }
  },
  foe: (m, A, seed) => {
    const filters = initialFilters('model.filters', m.init, m.size, m.filters, seed);
    try {
      const built = foeProblem({ filters, alpha: m.alpha, nu: m.nu, expert: m.expert, ...withOperator(A, m.xi) });
      const parts = [
        ...(m.nuMin > 0 ? [box({ logNu: { lower: Math.log(m.nuMin) } })] : []),
        ...(m.zeroMean ? [projection(zeroMeanFilters, 'zero-mean filters')] : []),
      ];
      return { built, project: composeProximal(...parts), filterKey: 'filters' };
    } finally {
      filters.dispose();
    }
  },
  tgv: (m, A) => ({ built: tgvProblem({ alpha: m.alpha, beta: m.beta, nu: m.nu, ...withOperator(A, m.xi) }), project: undefined, filterKey: undefined, image: tgvImage }),
  icnn: (m, A, seed) => ({ built: icnnProblem({ layers: m.layers, channels: m.channels, size: m.size, seed, ...withOperator(A, m.xi) }), project: undefined, filterKey: undefined }),
};

/** x ↦ its image: `model.image`, or a copy of x. */
export const imageOf = (model: BuiltModel, x: tf.Tensor): tf.Tensor => (model.image != null ? model.image(x) : x.clone());

/** The model of a config on the task's operator. */
export function buildModel(model: ModelConfig, operator: LinearOperator | undefined, seed: number): BuiltModel {
  return (BUILDERS[model.kind] as Builder<ModelConfig['kind']>)(model as never, operator, seed);
}
