import { mulberry32 } from '../internal/rng.js';

/**
 * Deterministic shuffled split of a list into train and test parts.
 *
 * @param items - anything.
 * @param fraction - share of items that go to `train`, in [0, 1] (rounded to the nearest count).
 * @param seed - generator seed of the shuffle.
 * @returns `{ train, test }`, disjoint, covering `items`.
 * @example
 * ```ts
 * const { train, test } = trainTestSplit(Object.keys(sampleImages()), 0.75, 0);
 * ```
 */
export function trainTestSplit<T>(items: readonly T[], fraction: number, seed: number): { train: T[]; test: T[] } {
  if (!Array.isArray(items)) throw new Error('trainTestSplit: \'items\' must be an array.');
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
    throw new Error(`trainTestSplit: 'fraction' must be in [0, 1], got ${String(fraction)}.`);
  }
  const random = mulberry32(seed);
  const order = items.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const nTrain = Math.round(fraction * items.length);
  return { train: order.slice(0, nTrain).map((i) => items[i]), test: order.slice(nTrain).map((i) => items[i]) };
}
