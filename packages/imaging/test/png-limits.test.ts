import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tf, initBackend } from '@bilevel/core';
import { decodePng, imageFromPng, PNG_DECODE_DEFAULTS } from '../src/index.js';
import { loadImage, sampleImages } from '../src/node.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/** A gray 8-bit PNG whose header says width × height and whose IDAT holds `rows` (already filtered) bytes. */
function png(width: number, height: number, rows: Uint8Array, compress = true): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // gray
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', compress ? zlib.deflateSync(rows) : rows), chunk('IEND', new Uint8Array(0))]);
}

/** Filtered rows of a w × h gray ramp (filter byte 0 per row). */
function ramp(w: number, h: number): Uint8Array {
  const out = new Uint8Array(h * (w + 1));
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * (w + 1) + 1 + c] = (r * w + c) % 256;
  return out;
}

describe('PNG decoding: pixel limit before allocation, short and corrupt data rejected, files named', () => {
  it('a valid hand-made PNG decodes (the builder is right)', () => {
    const img = decodePng(png(16, 16, ramp(16, 16)));
    expect([img.width, img.height]).toEqual([16, 16]);
    expect(img.values[17]).toBeCloseTo(17 / 255, 6);
  });

  it('a tiny PNG (68 bytes; the issue’s had 103) declaring 25,000² is refused from its header, before any allocation (was: zeros at 4.9 GB RSS)', () => {
    const bomb = png(25000, 25000, new Uint8Array(10));
    expect(bomb.length).toBeLessThan(110);
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    let message = '';
    try {
      decodePng(bomb, { name: 'bomb.png' });
    } catch (e) {
      message = (e as Error).message;
    }
    const ms = performance.now() - t0;
    const grew = (process.memoryUsage().rss - rss) / 2 ** 20;
    console.log(`[png] ${bomb.length}-byte 25,000² header: ${message} (${ms.toFixed(2)} ms, RSS +${grew.toFixed(1)} MB)`);
    expect(message).toMatch(/^decodePng: 'bomb\.png' declares 25,000×25,000 = 625 Mpx, above the limit of 67\.1 Mpx \(option 'maxPixels'\); decoding it would need about 2\.9 GiB\. Pass a larger maxPixels/);
    expect(grew).toBeLessThan(50);
    expect(() => decodePng(png(60000, 60000, new Uint8Array(10)))).toThrow(/decodePng: 'PNG bytes' declares 60,000×60,000 = 3,600 Mpx, above the limit/);
  });

  it("option 'maxPixels' lowers or raises the limit; a bad value is named", () => {
    const bytes = png(300, 300, ramp(300, 300));
    expect(() => decodePng(bytes, { maxPixels: 50_000, name: 'x.png' })).toThrow(/'x\.png' declares 300×300 = 0\.1 Mpx, above the limit of 0.1 Mpx/);
    expect(decodePng(bytes, { maxPixels: 90_000 }).width).toBe(300);
    expect(PNG_DECODE_DEFAULTS.maxPixels).toBe(2 ** 26);
    expect(() => decodePng(bytes, { maxPixels: 0 })).toThrow(/decodePng: option 'maxPixels' must be a positive integer/);
    expect(() => decodePng(bytes, { maxPixel: 5 } as never)).toThrow(/did you mean 'maxPixels'/);
  });

  it('pixel data shorter than the header declares is an error (was: zero rows)', () => {
    expect(() => decodePng(png(16, 16, ramp(16, 8)), { name: 'short.png' })).toThrow(/decodePng: 'short\.png' is corrupt: its pixel data is short: 136 of the 272 bytes that 16×16 pixels need/);
    expect(() => decodePng(png(16, 16, new Uint8Array(0)))).toThrow(/pixel data is short: 0 of the 272 bytes/);
    expect(() => decodePng(png(16, 4, ramp(16, 8)))).toThrow(/pixel data is longer than the 68 bytes/);
  });

  it('corrupt data is named: undecodable deflate stream, CRC mismatch, bad header, no IDAT', () => {
    expect(() => decodePng(png(16, 16, new Uint8Array(300).fill(0xff), false), { name: 'c.png' })).toThrow(/'c\.png' is corrupt: its compressed pixel data cannot be inflated/);
    const flipped = png(16, 16, ramp(16, 16));
    flipped[45] ^= 0xff; // inside IDAT: its CRC no longer matches
    expect(() => decodePng(flipped, { name: 'c.png' })).toThrow(/'c\.png' is corrupt: chunk 'IDAT' at byte 33 fails its CRC check/);
    const noIdat = Buffer.concat([png(4, 4, ramp(4, 4)).subarray(0, 33), chunk('IEND', new Uint8Array(0))]);
    expect(() => decodePng(noIdat)).toThrow(/is corrupt: it has no image data \(no IDAT chunk\)/);
    const badDepth = png(4, 4, ramp(4, 4));
    badDepth[24] = 3;
    badDepth.writeUInt32BE(zlib.crc32(badDepth.subarray(12, 29)) >>> 0, 29);
    expect(() => decodePng(badDepth)).toThrow(/is corrupt: colour type 0 with bit depth 3 is not a PNG format/);
  });

  it('non-PNG, empty and truncated files give errors that name the file (loadImage, imageFromPng)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'png-limits-'));
    const camera = fs.readFileSync(sampleImages().camera);
    const files: Array<[string, Uint8Array, RegExp]> = [
      ['page.png', Buffer.from('<!DOCTYPE html><html>'), /loadImage: '.*page\.png' is not a PNG: it starts with 3c 21 44 4f 43 54 59 50 \("<!DOCTYP"\), not the PNG signature 89 50 4e 47 0d 0a 1a 0a; convert it to PNG first/],
      ['photo.png', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]), /loadImage: '.*photo\.png' is not a PNG: it starts with ff d8 ff e0/],
      ['empty.png', new Uint8Array(0), /loadImage: '.*empty\.png' is empty \(0 bytes\); it is not a PNG image/],
      ['half.png', camera.subarray(0, camera.length >> 1), /loadImage: '.*half\.png' is truncated: chunk 'IDAT' at byte \d+ declares [\d,]+ bytes but the file ends [\d,]+ bytes later/],
      ['sig.png', camera.subarray(0, 5), /loadImage: '.*sig\.png' is truncated: 5 bytes, shorter than the PNG signature/],
      ['noend.png', camera.subarray(0, camera.length - 12), /loadImage: '.*noend\.png' is truncated: it ends at byte [\d]+ before the IEND chunk/],
    ];
    const before = tf.memory().numTensors;
    for (const [name, bytes, message] of files) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes);
      let text = '';
      try {
        loadImage(file);
      } catch (e) {
        text = (e as Error).message;
      }
      console.log(`[png] ${name}: ${text.replace(dir, '<dir>')}`);
      expect(text).toMatch(message);
    }
    expect(() => imageFromPng(new Uint8Array(0), { name: 'upload.png' })).toThrow(/^imageFromPng: 'upload\.png' is empty/);
    expect(tf.memory().numTensors).toBe(before);
    // the sample images still load, and maxPixels passes through loadImage
    const img = loadImage(sampleImages().camera);
    expect(img.shape).toEqual([1, 512, 512, 1]);
    img.dispose();
    expect(() => loadImage(sampleImages().camera, { maxPixels: 1000 })).toThrow(/loadImage: '.*camera\.png' declares 512×512 = 0\.3 Mpx, above the limit of 0 Mpx \(option 'maxPixels'\)/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
