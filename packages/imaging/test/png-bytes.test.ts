import { it, expect, describe, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import pngjs from 'pngjs';
import { tf, initBackend } from '@bilevel/core';
import {
  decodePng, imageFromPng, imageFromPixels, encodePng, SAMPLE_IMAGE_NAMES, sampleImageUrl, fetchSampleImage, denoisingDataset,
  LUMINANCE_WEIGHTS,
} from '../src/index.js';
import { sampleImages, loadImage, denoisingDataset as denoisingDatasetFromFiles } from '../src/node.js';

const { PNG } = pngjs;

/** The gray values pngjs (an independent decoder) reads from a PNG, with the same luma rule. */
function pngjsGray(bytes: Uint8Array): Float32Array {
  const png = PNG.sync.read(Buffer.from(bytes), { skipRescale: true });
  const meta = png as unknown as { depth: number; colorType: number };
  const max = 2 ** (meta.colorType === 3 ? 8 : meta.depth) - 1;
  const gray = meta.colorType === 0 || meta.colorType === 4;
  const [wr, wg, wb] = LUMINANCE_WEIGHTS;
  const d = png.data as unknown as ArrayLike<number>;
  return Float32Array.from({ length: png.width * png.height }, (_, i) => Math.min(1, (gray ? d[4 * i] : wr * d[4 * i] + wg * d[4 * i + 1] + wb * d[4 * i + 2]) / max));
}

/** A PNG built by hand (signature, IHDR, optional PLTE, IDAT of filter-0 rows, IEND). */
function handMadePng(width: number, height: number, depth: number, colorType: number, rows: number[][], palette?: number[][]): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Uint8Array) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set([...type].map((ch) => ch.charCodeAt(0)), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  // pack samples of `depth` bits, each row padded to whole bytes, preceded by filter type 0
  const packed: number[] = [];
  for (const row of rows) {
    packed.push(0);
    const bytes = new Uint8Array(Math.ceil((row.length * depth) / 8));
    row.forEach((v, i) => {
      bytes[(i * depth) >> 3] |= v << (8 - depth - ((i * depth) & 7));
    });
    packed.push(...bytes);
  }
  const parts = [Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr)];
  if (palette) parts.push(chunk('PLTE', Uint8Array.from(palette.flat())));
  parts.push(chunk('IDAT', deflateSync(Uint8Array.from(packed))), chunk('IEND', new Uint8Array(0)));
  const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    total.set(p, at);
    at += p.length;
  }
  return total;
}

// Decoding is plain JS plus one tensor upload: wasm only.
describe('PNG bytes and pixels (main entry, browser-safe)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('decodePng agrees exactly with pngjs on every bundled sample (gray, RGB, 8-bit)', () => {
    const paths = sampleImages();
    expect(Object.keys(paths)).toEqual([...SAMPLE_IMAGE_NAMES]);
    for (const name of SAMPLE_IMAGE_NAMES) {
      const bytes = readFileSync(paths[name]);
      const ours = decodePng(bytes);
      const reference = pngjsGray(bytes);
      expect(ours.values.length).toBe(reference.length);
      let maxDiff = 0;
      for (let i = 0; i < reference.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours.values[i] - reference[i]));
      // same formula in float64 then rounded to float32 on both sides: identical values
      expect(maxDiff, name).toBe(0);
    }
  });

  it('reads 2-bit gray and 4-bit palette PNGs at full precision, row padding included', () => {
    // width 5: rows of 10 and 20 bits, so each row ends in padding bits
    const gray2 = decodePng(handMadePng(5, 2, 2, 0, [[0, 1, 2, 3, 1], [3, 2, 1, 0, 2]]));
    expect(gray2.depth).toBe(2);
    expect(Array.from(gray2.values)).toEqual([0, 1, 2, 3, 1, 3, 2, 1, 0, 2].map((v) => Math.fround(v / 3)));
    const palette = [[255, 0, 0], [0, 255, 0], [10, 20, 30]];
    const indexed = decodePng(handMadePng(3, 2, 4, 3, [[0, 1, 2], [2, 2, 0]], palette));
    const luma = (c: number[]) => Math.fround((LUMINANCE_WEIGHTS[0] * c[0] + LUMINANCE_WEIGHTS[1] * c[1] + LUMINANCE_WEIGHTS[2] * c[2]) / 255);
    expect(indexed.depth).toBe(8);
    expect(Array.from(indexed.values)).toEqual([0, 1, 2, 2, 2, 0].map((i) => luma(palette[i])));
  });

  it('encodePng → imageFromPng round trip to half a level (8 and 16 bit), as Uint8Array and ArrayBuffer', () => {
    const before = tf.memory().numTensors;
    const x = tf.randomUniform([1, 9, 14, 1], -0.1, 1.1, 'float32', 7);
    const clipped = tf.clipByValue(x, 0, 1);
    for (const bitDepth of [8, 16] as const) {
      const bytes = encodePng(x, { bitDepth });
      expect(bytes).toBeInstanceOf(Uint8Array);
      for (const input of [bytes, bytes.slice().buffer]) {
        const y = imageFromPng(input);
        expect(y.shape).toEqual([1, 9, 14, 1]);
        const err = tf.tidy(() => tf.max(tf.abs(tf.sub(y, clipped))).dataSync()[0]);
        // nearest level: at most half a level, plus float32 round-off
        expect(err).toBeLessThanOrEqual(0.5 / (2 ** bitDepth - 1) + 1e-7);
        y.dispose();
      }
    }
    tf.dispose([x, clipped]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('imageFromPixels reads ImageData-like RGBA, gray Uint16 and float pixels', () => {
    const before = tf.memory().numTensors;
    const rgba = { data: Uint8ClampedArray.from([255, 0, 0, 255, 0, 0, 255, 7]), width: 2, height: 1 };
    const a = imageFromPixels(rgba);
    expect(a.shape).toEqual([1, 1, 2, 1]);
    expect(Array.from(a.dataSync())).toEqual([Math.fround(0.299), Math.fround(0.114)]);
    const b = imageFromPixels({ data: Uint16Array.from([0, 65535, 32768, 1]), width: 2, height: 2 });
    expect(Array.from(b.dataSync())).toEqual([0, 1, 32768 / 65535, 1 / 65535].map(Math.fround));
    const c = imageFromPixels({ data: Float32Array.from([0.25, 0.5, 0.75]), width: 3, height: 1 });
    expect(Array.from(c.dataSync())).toEqual([0.25, 0.5, 0.75]);
    expect(() => imageFromPixels({ data: new Uint8Array(10), width: 2, height: 2 })).toThrow(/imageFromPixels: data.length 10 is not 1, 2, 3 or 4 samples per pixel of a 2×2 image/);
    tf.dispose([a, b, c]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('bytes from any source decode like loadImage of the file; bad input names the fix', () => {
    const path = sampleImages().coins;
    const fromFile = loadImage(path);
    const fromBytes = imageFromPng(new Uint8Array(readFileSync(path)));
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(fromFile, fromBytes))).dataSync()[0])).toBe(0);
    tf.dispose([fromFile, fromBytes]);
    expect(() => decodePng('camera.png' as never)).toThrow(/decodePng: expected the PNG file's bytes as a Uint8Array/);
    expect(() => decodePng(new Uint8Array([1, 2, 3, 4]))).toThrow(/decodePng: 'PNG bytes' is not a PNG: it starts with 01 02 03 04/);
  });

  it('sample URLs point at the bundled files; fetchSampleImage decodes what fetch returns', async () => {
    for (const name of SAMPLE_IMAGE_NAMES) expect(fileURLToPath(sampleImageUrl(name))).toBe(sampleImages()[name]);
    expect(() => sampleImageUrl('lena' as never)).toThrow(/unknown sample image 'lena'; use one of astronaut, brick/);
    await expect(fetchSampleImage('text')).rejects.toThrow(/file: URL, which fetch cannot read in Node; use loadImage\(sampleImages\(\)\.text\)/);
    // a fetch that serves the file, as a bundler's dev server would
    const served: string[] = [];
    const fakeFetch = (async (href: string) => {
      served.push(href);
      return new Response(readFileSync(fileURLToPath(href)));
    }) as unknown as typeof fetch;
    const img = await fetchSampleImage('text', fakeFetch);
    expect(served).toEqual([sampleImageUrl('text').href]);
    const ref = loadImage(sampleImages().text);
    expect(img.shape).toEqual(ref.shape);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(img, ref))).dataSync()[0])).toBe(0);
    tf.dispose([img, ref]);
  });

  it('denoisingDataset of the main entry takes PNG bytes and refuses paths with a pointer to /node', () => {
    const before = tf.memory().numTensors;
    const s = sampleImages();
    const paths = [s.camera, s.coins];
    const fromBytes = denoisingDataset({ images: paths.map((p) => readFileSync(p)), cropSize: 16, count: 2, sigma: 0.1, seed: 3 });
    const fromFiles = denoisingDatasetFromFiles({ images: paths, cropSize: 16, count: 2, sigma: 0.1, seed: 3 });
    expect(Array.from(fromBytes.train.noisy.dataSync())).toEqual(Array.from(fromFiles.train.noisy.dataSync()));
    fromBytes.dispose();
    fromFiles.dispose();
    expect(() => denoisingDataset({ images: paths as never })).toThrow(/denoisingDataset: images\[0\] is a file path; import denoisingDataset from '@bilevel\/imaging\/node'/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
