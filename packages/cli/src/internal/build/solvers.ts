/** Builders of the strategy (how ∇F is computed) and the upper-level method of a config. */
import { lbfgs, gradientDescent, accelerated, cg, gmres, anderson, picard, broyden } from '@bilevel/core';
import type { Strategy } from '@bilevel/core';
import type { BoundConstants } from '@bilevel/outer';
import { implicit } from '@bilevel/implicit';
import { unrolled } from '@bilevel/unrolled';
import { equilibrium } from '@bilevel/equilibrium';
import { jacobianFree } from '@bilevel/jfb';
import { maid, hoag, adam, sgd, dfo, geometric } from '@bilevel/outer';
import type { Method, MethodStateBase } from '@bilevel/outer';
import type { StrategyConfig, MethodConfig } from '../../config/training.js';

/**
 * A fresh strategy (it keeps warm starts: one per run). `constants` (without μ, which the
 * problem declares) make `implicit` certify each hypergradient itself: what the crop-by-crop
 * engines need, since the bound is computed where the sample is.
 */
export function buildStrategy(s: StrategyConfig, constants?: Omit<BoundConstants, 'mu'>): Strategy {
  switch (s.kind) {
    case 'implicit': {
      const inner = s.inner === 'lbfgs' ? lbfgs() : s.inner === 'accelerated' ? accelerated() : gradientDescent();
      return implicit({ inner, linear: s.linear === 'cg' ? cg() : gmres(), maxIter: s.maxIter, linearMaxIter: s.linearMaxIter, warmStart: s.warmStart, ...(constants != null ? { constants } : {}) });
    }
    case 'unrolled':
      return unrolled({ steps: s.steps, method: s.method });
    case 'equilibrium': {
      const forward = s.forward === 'anderson' ? anderson() : s.forward === 'picard' ? picard() : broyden();
      return equilibrium({ forward, maxIter: s.maxIter, backward: s.backward });
    }
    case 'jfb':
      return jacobianFree({ steps: s.steps });
  }
}

/** The upper-level method; `n` training crops, `filterKey` the θ leaf of filters (Adam's per-leaf step). */
export function buildMethod(m: MethodConfig, n: number, filterKey: string | undefined): Method<MethodStateBase> {
  switch (m.kind) {
    case 'maid':
      return maid({ tol0: m.tol0, step0: m.step0 }) as Method<MethodStateBase>;
    case 'hoag':
      return hoag({ schedule: geometric(m.tol0, m.ratio), step: m.step }) as Method<MethodStateBase>;
    case 'adam':
      return adam({ step: m.step, size: n, batchSize: Math.min(m.batchSize ?? n, n), tol: m.tol, seed: m.seed, ...(filterKey != null ? { stepScale: { [filterKey]: m.filterStep } } : {}) }) as Method<MethodStateBase>;
    case 'sgd':
      return sgd({ step: m.step, size: n, batchSize: Math.min(m.batchSize ?? n, n), tol: m.tol, seed: m.seed }) as Method<MethodStateBase>;
    case 'dfo':
      return dfo({ radius0: m.radius0, tol0: m.tol0 }) as Method<MethodStateBase>;
  }
}
