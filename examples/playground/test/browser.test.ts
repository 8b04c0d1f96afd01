/**
 * The playground in a real browser: build it with vite, serve it on 127.0.0.1, load it in
 * headless Chromium (the Debian package, driven by puppeteer-core), learn TV with the implicit
 * strategy and MAID through the page's own form, and check
 * - the PSNR gain (over the noisy crop, and over x̂(θ₀): learning happened),
 * - that every request of the page and its worker stayed on 127.0.0.1,
 * - that the page decodes the sample to the same pixels as Node's decodePng,
 * - that one hypergradient computed in the page equals the one Node computes from the same
 *   pixels, θ and strategy.
 * Without Chromium the test fails and says how to install it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import type { PreviewServer } from 'vite';
import { tf, initBackend } from '@bilevel/core';
import { decodePng } from '@bilevel/imaging';
import { makeData } from '../src/session.js';
import { hypergradientOnce, type HypergradientReport } from '../src/run.js';
import type { PlaygroundResult } from '../src/main.js';
import type { PlaygroundConfig } from '../src/choices.js';
import { ROOT, chromiumPath, buildAndServe, launch, open } from './browser.js';

type Hook = {
  run(s: Partial<PlaygroundConfig> & { sample?: string; backend?: string }): Promise<PlaygroundResult>;
  decodeSample(name: string): Promise<{ width: number; height: number; values: number[] }>;
  hypergradient(c: Partial<PlaygroundConfig>, sample: string, theta: undefined, tol: number, backend: string): Promise<HypergradientReport>;
  resources(): Promise<string[]>;
  last(): { steps: unknown[]; frames: unknown[]; start?: { clean: Float32Array; crop: number } } | undefined;
};
declare const window: { __bilevel: Hook };

// The form's settings; seed 0 is the page's fixed seed.
const FORM = { model: 'tv', strategy: 'implicit', method: 'maid', sigma: 0.1, crop: 48 } as const;
const CONFIG: Partial<PlaygroundConfig> = { ...FORM, seed: 0 };

describe('playground in headless Chromium', () => {
  let server: PreviewServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let requests: string[] = [];
  let errors: string[] = [];
  let origin = '';

  beforeAll(async () => {
    chromiumPath(); // fail first, with the install hint, when there is no browser
    const served = await buildAndServe();
    server = served.server;
    origin = new URL(served.url).origin;
    console.log(`playground: vite build ${(served.buildMs / 1000).toFixed(1)} s, serving ${served.url}`);
    browser = await launch();
    ({ page, requests, errors } = await open(browser, served.url));
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('learns TV (implicit, MAID) in a Web Worker on wasm and gains PSNR', async () => {
    const result = await page.evaluate((c) => window.__bilevel.run({ ...c, iterations: 10, sample: 'camera', backend: 'wasm' }), FORM);
    console.log(`playground: TV on wasm in Chromium: ${result.iterations} MAID iterations, work ${result.work}, learning ${(result.learnMs / 1000).toFixed(2)} s (${(result.totalMs / 1000).toFixed(2)} s with display solves); PSNR noisy ${result.noisyPsnr.toFixed(2)}, x̂(θ₀) ${result.initialPsnr.toFixed(2)}, learned ${result.psnr.toFixed(2)} dB`);
    expect(result.status).toBe('budget-iterations');
    expect(result.iterations).toBe(10);
    // Measured on camera's crop: noisy 19.97, x̂(θ₀) 21.54, learned 24.96 dB (Node and Chromium alike).
    expect(result.psnr - result.noisyPsnr).toBeGreaterThan(4);
    expect(result.psnr - result.initialPsnr).toBeGreaterThan(2);
    expect(await page.$eval('body', (b) => b.dataset.state)).toBe('done');
    expect(errors).toEqual([]);
  }, 90_000);

  it('decodes the sample to the pixels Node decodes and computes the same hypergradient as Node', async () => {
    const file = readFileSync(join(ROOT, '../../packages/imaging/data/camera.png'));
    const node = decodePng(file);
    const browserImage = await page.evaluate(() => window.__bilevel.decodeSample('camera'));
    expect([browserImage.width, browserImage.height]).toEqual([node.width, node.height]);
    let maxDiff = 0;
    for (let i = 0; i < node.values.length; i++) maxDiff = Math.max(maxDiff, Math.abs(browserImage.values[i] - node.values[i]));
    // Both compute the same luma of the same 8-bit samples; only float32 rounding of v/255 may differ.
    expect(maxDiff).toBeLessThanOrEqual(1e-7);

    const tol = 1e-4;
    const inPage = await page.evaluate((c, t) => window.__bilevel.hypergradient(c, 'camera', undefined, t, 'wasm'), CONFIG, tol);
    await initBackend({ backend: 'wasm', log: false });
    const before = tf.memory().numTensors;
    const inNode = hypergradientOnce(CONFIG, node, undefined, tol);
    expect(tf.memory().numTensors).toBe(before);
    expect(inPage.backend).toBe('wasm');
    expect(Object.keys(inPage.grad).sort()).toEqual(['logAlpha', 'logNu']);
    console.log(`playground: hypergradient at θ₀, page ${JSON.stringify(inPage.grad)} value ${inPage.value}; Node ${JSON.stringify(inNode.grad)} value ${inNode.value}`);
    // Same pixels, θ₀, strategy and tolerances: a difference can only come from float32
    // rounding where Chromium's and Node's wasm kernels differ (e.g. SIMD and scalar builds
    // summing in other orders), which moves the point where L-BFGS and CG stop within their
    // band (‖∇Φ‖ ≤ 1e-4, adjoint residual ≤ 1e-4, absolute). Moving it on purpose (tol 1e-4 →
    // 1e-5, in Node) changes ∇F by 3.4e-6 relative, so 1e-4 relative leaves a 30× margin, while
    // a real difference is caught: θ moved by 0.01 in log α changes ∇F by 6.6e-3 / 9.2e-3
    // relative, another noise seed by 3.6e-2 / 4.6e-2 (measured 2026-12-01; on wasm the page
    // and Node agree to the last bit).
    expect(Math.abs(inPage.value - inNode.value)).toBeLessThanOrEqual(1e-4 * Math.abs(inNode.value));
    for (const key of ['logAlpha', 'logNu']) {
      const [a, b] = [inPage.grad[key].values[0], inNode.grad[key].values[0]];
      expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-4 * Math.abs(b));
    }
  }, 60_000);

  it('learns from an uploaded image (Jacobian-free, Adam) and stops on the Stop button', async () => {
    const file = join(ROOT, '../../packages/imaging/data/coins.png');
    const input = (await page.$('#upload')) as ElementHandle<HTMLInputElement> | null;
    await input!.uploadFile(file);
    const out = await page.evaluate(async () => {
      const hook = window.__bilevel;
      const before = hook.last();
      const done = hook.run({ model: 'tv', strategy: 'jfb', method: 'adam', crop: 32, iterations: 500 });
      // Stop once this run (not the previous one) has drawn 3 iterations; polled for at most 10 s.
      const drawn = () => (hook.last() !== before ? (hook.last()?.steps.length ?? 0) : 0);
      for (let k = 0; k < 200 && drawn() < 3; k++) await new Promise((r) => setTimeout(r, 50));
      (document.getElementById('stop') as HTMLButtonElement).click();
      const result = await Promise.race([done, new Promise<'no result 20 s after Stop'>((r) => setTimeout(() => r('no result 20 s after Stop'), 20_000))]);
      return { result, clean: Array.from(hook.last()!.start!.clean) };
    });
    if (typeof out.result === 'string') throw new Error(`playground: ${out.result}`);
    expect(out.result.status).toBe('aborted');
    expect(out.result.iterations).toBeGreaterThanOrEqual(3);
    expect(out.result.iterations).toBeLessThan(500);
    // The page decoded the uploaded bytes (a Blob, not a URL) to the crop Node builds from the same file.
    await initBackend({ backend: 'wasm', log: false });
    const data = makeData(decodePng(readFileSync(file)), 32, 0.1, 0);
    const expected = data.clean.dataSync();
    tf.dispose([data.y, data.clean]);
    expect(out.clean.length).toBe(32 * 32);
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.clean[i] - expected[i]));
    // Average pooling of identical pixels in float32 on the same wasm kernels.
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
  }, 60_000);

  it('makes no request beyond its own origin on 127.0.0.1', async () => {
    const all = [...requests, ...(await page.evaluate(() => window.__bilevel.resources()))];
    // The earlier tests fetched the wasm binary and the sample in the worker: both must be listed.
    expect(all.some((u) => u.endsWith('.wasm'))).toBe(true);
    expect(all.some((u) => /camera.*\.png$/.test(u))).toBe(true);
    const foreign = all.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin);
    expect(foreign).toEqual([]);
    expect(new URL(origin).hostname).toBe('127.0.0.1');
  });
});
