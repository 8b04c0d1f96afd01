import { describe, it, expect } from 'vitest';
import { build, type Metafile } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { runQuickstart, type QuickstartResult } from '../src/quickstart.js';

const here = dirname(fileURLToPath(import.meta.url));
const ENTRIES = ['core', 'implicit', 'unrolled', 'equilibrium', 'jfb', 'piggyback', 'outer', 'imaging'] as const;
const NODE_BUILTINS = /^(node:|fs$|fs\/|path$|url$|os$|util$|stream$|zlib$|crypto$|worker_threads$|child_process$|module$|buffer$|events$)/;

/**
 * tfjs-backend-wasm embeds the source of its pthread worker as one string literal that starts
 * with `"use strict";var Module={};var ENVIRONMENT_IS_NODE=` and has a Node branch with
 * `require("fs")`; it is only ever evaluated inside a Worker (or worker_threads under Node).
 * Everything else in a bundle must be free of Node imports, so that string is cut out first.
 */
function withoutWasmWorkerSource(code: string): { code: string; cut: number } {
  const start = code.indexOf('"use strict";var Module={};var ENVIRONMENT_IS_NODE=');
  if (start < 0) return { code, cut: 0 };
  const quote = code[start - 1];
  let end = start;
  while (end < code.length && !(code[end] === quote && code[end - 1] !== '\\')) end++;
  return { code: code.slice(0, start) + code.slice(end), cut: end - start };
}

/** Node-only references left in bundled code (after the wasm worker string is cut out). */
function nodeOnlyReferences(code: string): string[] {
  const found = code.match(/(require\(["'](node:)?(fs|path|url|os|util|stream|zlib|crypto|worker_threads|child_process)["']\)|from\s*["']node:[a-z_/]+["']|import\(["']node:[a-z_/]+["']\))/g);
  return [...new Set(found ?? [])];
}

/** Bundles `contents` as a user's app would: through each package's `exports`, i.e. its dist/ build. */
async function bundle(contents: string, format: 'esm' | 'iife', globalName?: string) {
  for (const name of ENTRIES) {
    const built = join(here, '..', '..', '..', 'packages', name, 'dist', 'index.js');
    if (!existsSync(built)) throw new Error(`browser-bundle: ${built} is missing; run \`npx --yes pnpm@9 build\` first (\`pnpm test\` does).`);
  }
  return build({
    stdin: { contents, resolveDir: join(here, '..'), sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format,
    globalName,
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
}

describe('every main entry point bundles for the browser (esbuild, platform browser, no polyfills)', () => {
  const sizes: Record<string, { raw: number; gzip: number; own: number }> = {};
  for (const name of ENTRIES) {
    it(`@bilevel/${name}`, async () => {
      const result = await bundle(`export * from '@bilevel/${name}';`, 'esm');
      expect(result.errors).toEqual([]);
      expect(result.warnings.map((w) => w.text)).toEqual([]);
      const metafile = result.metafile as Metafile;
      // the output imports nothing (no external left over) and no Node built-in was resolved into it
      expect(Object.values(metafile.outputs).flatMap((output) => output.imports).map((i) => i.path)).toEqual([]);
      const imports = Object.values(metafile.inputs).flatMap((input) => input.imports);
      expect(imports.filter((i) => NODE_BUILTINS.test(i.path)).map((i) => i.path)).toEqual([]);
      expect(Object.keys(metafile.inputs).filter((p) => /node_modules\/.*pngjs|\/src\/node(\.ts|\/)/.test(p))).toEqual([]);
      const code = result.outputFiles[0].text;
      const { code: checked, cut } = withoutWasmWorkerSource(code);
      expect(cut).toBeGreaterThan(0); // the wasm backend is in every bundle (core imports it)
      expect(nodeOnlyReferences(checked)).toEqual([]);
      // bytes of bilevel's own sources in the output (the rest is tfjs, fast-png, fflate)
      const own = Object.values(metafile.outputs).flatMap((o) => Object.entries(o.inputs)).filter(([p]) => !p.includes('node_modules')).reduce((n, [, v]) => n + v.bytesInOutput, 0);
      sizes[name] = { raw: code.length, gzip: gzipSync(code).length, own };
    });
  }
  it('sizes (minified ESM, tfjs included)', () => {
    const lines = Object.entries(sizes).map(([n, s]) => `@bilevel/${n.padEnd(12)} ${(s.raw / 1024).toFixed(0).padStart(6)} KiB raw ${(s.gzip / 1024).toFixed(0).padStart(5)} KiB gzip ${(s.own / 1024).toFixed(0).padStart(5)} KiB of it bilevel's own (minified)`);
    console.log(`[bundle] esbuild --bundle --platform=browser --minify\n${lines.join('\n')}`);
    expect(Object.keys(sizes).length).toBe(ENTRIES.length);
  });
});

/**
 * A Web Worker as far as tfjs and emscripten can tell (`self`, `WorkerGlobalScope`,
 * `importScripts`, `fetch`), without any Node global: no `process`, `require`, `Buffer`,
 * `module`, `SharedArrayBuffer` (a page that is not cross-origin isolated). `fetch` serves
 * the wasm binaries under `https://app.test/tfjs-wasm/` only.
 */
function workerLikeContext(log: string[]): vm.Context {
  const require = createRequire(import.meta.url);
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  const served = new Set(readdirSync(wasmDir).filter((f) => f.endsWith('.wasm')));
  const fetch = async (url: string | URL) => {
    const href = String(url);
    const file = href.startsWith('https://app.test/tfjs-wasm/') ? href.slice('https://app.test/tfjs-wasm/'.length) : '';
    if (!served.has(file)) return new Response('not found', { status: 404 });
    return new Response(readFileSync(join(wasmDir, file)), { headers: { 'content-type': 'application/wasm' } });
  };
  const context = vm.createContext({
    console: { log: (...a: unknown[]) => log.push(a.join(' ')), warn: (...a: unknown[]) => log.push(`warn: ${a.join(' ')}`), error: (...a: unknown[]) => log.push(`error: ${a.join(' ')}`), info: () => {}, debug: () => {} },
    setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask,
    TextEncoder, TextDecoder, URL, Blob, Response, performance, fetch,
    location: { href: 'https://app.test/worker.js' },
    importScripts: () => {},
    WorkerGlobalScope: function WorkerGlobalScope() {},
  });
  vm.runInContext('globalThis.self = globalThis; delete globalThis.SharedArrayBuffer;', context);
  return context;
}

describe('the README quickstart runs from a browser bundle in a worker-like context without Node globals', () => {
  let reference: QuickstartResult;
  let code: string;
  it('bundles (IIFE) and the Node run gives the reference numbers', async () => {
    const result = await bundle(`export { runQuickstart } from './src/quickstart.ts';`, 'iife', 'quickstart');
    expect(result.errors).toEqual([]);
    code = result.outputFiles[0].text;
    reference = await runQuickstart({ backend: 'wasm', log: false });
    expect(reference.converged).toBe(true);
  });

  it("with wasmPaths: wasm starts from the served files and gives Node's numbers", async () => {
    const log: string[] = [];
    const context = workerLikeContext(log);
    for (const name of ['process', 'require', 'Buffer', 'module', 'global']) expect(vm.runInContext(`typeof ${name}`, context)).toBe('undefined');
    vm.runInContext(code, context);
    // options are made inside the context, as the page's own code would make them (same realm)
    const got = (await vm.runInContext("quickstart.runQuickstart({ backend: 'wasm', wasmPaths: 'https://app.test/tfjs-wasm/' })", context)) as QuickstartResult;
    console.log(`[bundle] worker-like run: ${JSON.stringify(got)}; log: ${log.filter((l) => l.includes('[bilevel]')).join(' | ')}`);
    expect(got.backend).toBe('wasm');
    // same backend, same kernels, same inputs: the same float32 numbers as in Node
    expect(got.value).toBe(reference.value);
    expect(got.grad).toBe(reference.grad);
    expect(got.innerIterations).toBe(reference.innerIterations);
  });

  it("without wasmPaths: an explicit 'wasm' fails loudly naming the fix; 'auto' falls back to cpu and logs why", async () => {
    const log: string[] = [];
    const context = workerLikeContext(log);
    vm.runInContext(code, context);
    const run = (options: string) => vm.runInContext(`quickstart.runQuickstart(${options})`, context) as Promise<QuickstartResult>;
    await expect(run("{ backend: 'wasm', log: false }")).rejects.toThrow(/initBackend: backend 'wasm' could not start: .*Fix: serve the \.wasm files of @tensorflow\/tfjs-backend-wasm .* wasmPaths/);
    const got = await run("{ backend: 'auto' }");
    const line = log.find((l) => l.includes('[bilevel]')) ?? '';
    console.log(`[bundle] auto without wasmPaths: ${line}`);
    expect(got.backend).toBe('cpu');
    expect(line).toMatch(/backend: cpu \(auto; not started: wasm: .*; webgl: /);
    // cpu and wasm agree to float32 round-off over the iterative solves (relative 1e-4)
    expect(Math.abs(got.value - reference.value)).toBeLessThanOrEqual(1e-4 * Math.abs(reference.value));
  });
});
