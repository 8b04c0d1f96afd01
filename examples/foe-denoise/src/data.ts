/**
 * Train/held-out split by disjoint tiles of the same images: every image is cut into a grid
 * of non-overlapping `crop × crop` tiles, coloured like a checkerboard; training crops are
 * drawn (seeded) from the "black" tiles and held-out crops from the "white" ones, so the two
 * sets share no pixel but come from the same kind of images (no domain shift between them).
 */
import { tf } from '@bilevel/core';
import { extractPatches, addNoise } from '@bilevel/imaging';
import { loadImage } from '@bilevel/imaging/node';
import { mulberry32, permutation } from '@bilevel/outer';

export interface TileDataset {
  train: { clean: tf.Tensor4D; noisy: tf.Tensor4D };
  test: { clean: tf.Tensor4D; noisy: tf.Tensor4D };
  dispose(): void;
}

/** `items` in a seeded random order (mulberry32 + Fisher–Yates, as @bilevel/outer draws minibatches). */
function shuffled<T>(items: T[], seed: number): T[] {
  return permutation(items.length, mulberry32(seed)).map((i) => items[i]);
}

/**
 * @param paths - PNG paths.
 * @param crop - tile side.
 * @param count - training crops (round-robin over the images).
 * @param testCount - held-out crops (round-robin over the images).
 */
export function tileDataset(paths: string[], crop: number, count: number, testCount: number, sigma: number, seed: number): TileDataset {
  const trainParts: tf.Tensor[] = [];
  const testParts: tf.Tensor[] = [];
  const perImage = (n: number, i: number) => Math.floor(n / paths.length) + (i < n % paths.length ? 1 : 0);
  paths.forEach((path, i) => {
    const img = loadImage(path);
    const cols = Math.floor((img.shape[2] as number) / crop);
    const tiles = extractPatches(img, crop);
    img.dispose();
    const black: number[] = [];
    const white: number[] = [];
    for (let t = 0; t < tiles.shape[0]; t++) (((Math.floor(t / cols) + (t % cols)) % 2 === 0) ? black : white).push(t);
    const nTrain = perImage(count, i);
    const nTest = perImage(testCount, i);
    if (nTrain > black.length || nTest > white.length) throw new Error(`foe-denoise: ${path} has only ${black.length}/${white.length} train/test tiles of ${crop}²; lower --count/--testCount or --crop.`);
    const pick = (ids: number[], n: number, s: number) => tf.gather(tiles, tf.tensor1d(shuffled(ids, s).slice(0, n), 'int32'));
    if (nTrain > 0) trainParts.push(tf.tidy(() => pick(black, nTrain, seed * 7919 + 2 * i + 1)));
    if (nTest > 0) testParts.push(tf.tidy(() => pick(white, nTest, seed * 7919 + 2 * i + 2)));
    tiles.dispose();
  });
  const batch = (parts: tf.Tensor[], s: number) => {
    const clean = tf.concat(parts, 0) as tf.Tensor4D;
    tf.dispose(parts);
    return { clean, noisy: addNoise(clean, sigma, s) as tf.Tensor4D };
  };
  const train = batch(trainParts, 2 * seed + 1);
  const test = batch(testParts, 2 * seed + 2);
  return { train, test, dispose: () => tf.dispose([train.clean, train.noisy, test.clean, test.noisy]) };
}
