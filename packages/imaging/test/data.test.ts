import { it, expect, describe, beforeAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { tf, initBackend } from '@bilevel/core';
import { encodePng, decodePng, centerCrop, randomCrops, extractPatches, addNoise, trainTestSplit } from '../src/index.js';
import { loadImage, saveImage, sampleImages, denoisingDataset, SAMPLE_IMAGE_DIR } from '../src/node.js';

const { PNG } = pngjs;

// Data handling is backend-independent JS plus slicing; wasm only.
describe('data', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });
  const dir = mkdtempSync(join(tmpdir(), 'bilevel-imaging-'));

  it('lists the bundled sample images from any working directory', () => {
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const s = sampleImages();
      expect(Object.keys(s)).toEqual(['astronaut', 'brick', 'camera', 'cell', 'coins', 'grass', 'gravel', 'text']);
      expect(s.camera.startsWith(SAMPLE_IMAGE_DIR)).toBe(true);
      const img = loadImage(s.coins);
      expect(img.shape).toEqual([1, 303, 384, 1]);
      const [min, max] = [tf.min(img), tf.max(img)];
      expect(min.dataSync()[0]).toBeGreaterThanOrEqual(0);
      expect(max.dataSync()[0]).toBeLessThanOrEqual(1);
      tf.dispose([img, min, max]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('PNG round trip: save then load equals the input to 1/255 (8-bit) and 1/65535 (16-bit), clipping to [0, 1]', () => {
    const before = tf.memory().numTensors;
    const x = tf.tidy(() => tf.add(tf.mul(tf.randomUniform([1, 13, 17, 1], -0.2, 1.2, 'float32', 3), 1), 0));
    const clipped = tf.clipByValue(x, 0, 1);
    for (const bitDepth of [8, 16] as const) {
      const path = join(dir, `round-${bitDepth}.png`);
      saveImage(path, x, { bitDepth });
      const y = loadImage(path);
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(y, clipped))));
      // rounding to the nearest level: at most half a level, plus float32 round-off
      expect(err.dataSync()[0]).toBeLessThanOrEqual(0.5 / (2 ** bitDepth - 1) + 1e-7);
      tf.dispose([y, err]);
    }
    tf.dispose([x, clipped]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('RGB and RGBA convert to gray by 0.299/0.587/0.114; 16-bit RGB keeps full precision', () => {
    const rgb = new PNG({ width: 2, height: 1 });
    rgb.data = Buffer.from([255, 0, 0, 255, 10, 200, 40, 0]); // RGBA, alpha ignored
    const v = decodePng(PNG.sync.write(rgb)).values;
    expect(v[0]).toBeCloseTo(0.299, 6);
    expect(v[1]).toBeCloseTo((0.299 * 10 + 0.587 * 200 + 0.114 * 40) / 255, 6);
    // 16-bit RGB written by pngjs from 16-bit samples
    const data16 = new Uint16Array([65535, 0, 0, 65535, 1000, 30000, 50000, 65535]);
    const png16 = new PNG({ width: 2, height: 1, bitDepth: 16, colorType: 2, inputColorType: 6, inputHasAlpha: true });
    png16.data = Buffer.from(data16.buffer);
    const d = decodePng(PNG.sync.write(png16, { bitDepth: 16, colorType: 2, inputColorType: 6, inputHasAlpha: true }));
    expect(d.depth).toBe(16);
    expect(d.values[1]).toBeCloseTo((0.299 * 1000 + 0.587 * 30000 + 0.114 * 50000) / 65535, 6);
    // the bundled RGB sample loads as gray
    const astro = loadImage(sampleImages().astronaut);
    expect(astro.shape).toEqual([1, 512, 512, 1]);
    astro.dispose();
  });

  it('encodePng rejects batches with a hint', () => {
    const b = tf.zeros([2, 4, 4, 1]);
    expect(() => encodePng(b)).toThrow(/encodePng: expected a gray image/);
    b.dispose();
    const path = join(dir, 'missing.png');
    expect(() => loadImage(path)).toThrow(/loadImage: cannot read/);
  });

  it('crops and patches', () => {
    const img = tf.tidy(() => tf.range(0, 10 * 12).reshape([1, 10, 12, 1]));
    const c = centerCrop(img, 4);
    expect(Array.from(c.dataSync()).slice(0, 4)).toEqual([3 * 12 + 4, 3 * 12 + 5, 3 * 12 + 6, 3 * 12 + 7]);
    const r1 = randomCrops(img, 5, 6, 9);
    const r2 = randomCrops(img, 5, 6, 9);
    const r3 = randomCrops(img, 5, 6, 10);
    expect(r1.shape).toEqual([6, 5, 5, 1]);
    expect(Array.from(r1.dataSync())).toEqual(Array.from(r2.dataSync()));
    expect(Array.from(r1.dataSync())).not.toEqual(Array.from(r3.dataSync()));
    const p = extractPatches(img, 4, 4);
    expect(p.shape).toEqual([2 * 3, 4, 4, 1]);
    expect(p.slice([1, 0, 0, 0], [1, 1, 1, 1]).dataSync()[0]).toBe(4);
    expect(() => centerCrop(img, 11)).toThrow(/centerCrop: crop size 11 exceeds/);
    tf.dispose([img, c, r1, r2, r3, p]);
  });

  it('seeded noise is reproducible and has the requested standard deviation', () => {
    const x = tf.zeros([2, 64, 64, 1]);
    const before = tf.memory().numTensors;
    const a = addNoise(x, 0.1, 5);
    const b = addNoise(x, 0.1, 5);
    const c = addNoise(x, 0.1, 6);
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(c.dataSync()));
    const std = Math.sqrt(tf.tidy(() => tf.mean(tf.square(a))).dataSync()[0]);
    // 8192 samples: the sample std is within ~3/√(2n) ≈ 2.3 % of σ
    expect(Math.abs(std - 0.1)).toBeLessThan(0.0025);
    tf.dispose([x, a, b, c]);
  });

  it('trainTestSplit is deterministic, disjoint and complete', () => {
    const items = Array.from({ length: 10 }, (_, i) => `item${i}`);
    const s1 = trainTestSplit(items, 0.7, 1);
    const s2 = trainTestSplit(items, 0.7, 1);
    expect(s1).toEqual(s2);
    expect(s1.train.length).toBe(7);
    expect([...s1.train, ...s1.test].sort()).toEqual([...items].sort());
    expect(trainTestSplit(items, 0.7, 2)).not.toEqual(s1);
    expect(() => trainTestSplit(items, 1.5, 0)).toThrow(/trainTestSplit: 'fraction'/);
  });

  it('denoisingDataset builds reproducible train/test batches from unseen images', () => {
    const before = tf.memory().numTensors;
    const s = sampleImages();
    const images = [s.camera, s.coins, s.text, s.brick];
    const d1 = denoisingDataset({ images, cropSize: 24, count: 6, testCount: 3, sigma: 0.1, seed: 4 });
    const d2 = denoisingDataset({ images, cropSize: 24, count: 6, testCount: 3, sigma: 0.1, seed: 4 });
    expect(d1.train.clean.shape).toEqual([6, 24, 24, 1]);
    expect(d1.test.noisy.shape).toEqual([3, 24, 24, 1]);
    expect(d1.trainImages.length + d1.testImages.length).toBe(4);
    expect(d1.trainImages.filter((i) => d1.testImages.includes(i))).toEqual([]);
    expect(Array.from(d1.train.noisy.dataSync())).toEqual(Array.from(d2.train.noisy.dataSync()));
    const mse = tf.tidy(() => tf.mean(tf.square(tf.sub(d1.train.noisy, d1.train.clean))));
    const noiseStd = Math.sqrt(mse.dataSync()[0]);
    mse.dispose();
    expect(Math.abs(noiseStd - 0.1)).toBeLessThan(0.01);
    d1.dispose();
    d2.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
