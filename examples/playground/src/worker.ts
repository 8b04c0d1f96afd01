/**
 * The learning worker: tfjs runs here, off the page's thread. It decodes the image with the
 * browser's decoder, learns with {@link runPlayground} and posts one message per iteration.
 */
import { tf } from '@bilevel/core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// Served by vite from this package's own build: no request leaves the page's origin.
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { runPlayground, hypergradientOnce } from './run.js';
import type { GrayImage } from './session.js';
import type { BackendChoice, FromWorker, ImageSource, ToWorker } from './protocol.js';

setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded });

const scope = self as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker) => scope.postMessage(m);

async function useBackend(name: BackendChoice): Promise<void> {
  if (tf.getBackend() === name) return;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`playground: the tfjs backend '${name}' failed to initialise in this browser; choose wasm or cpu.`);
  await tf.ready();
}

/** Gray values in [0, 1] with the luma weights of @bilevel/imaging's decodePng (BT.601). */
async function decode(source: ImageSource): Promise<GrayImage> {
  if (source.kind === 'pixels') return source.image;
  const blob = source.kind === 'blob' ? source.blob : await (await fetch(source.url)).blob();
  // No colour management or premultiplication: the bytes of the file, as decodePng reads them.
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const values = new Float32Array(bitmap.width * bitmap.height);
  for (let i = 0; i < values.length; i++) values[i] = Math.min(1, (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255);
  return { width: bitmap.width, height: bitmap.height, values };
}

let stopRequested = false;
let busy = false;
// A macrotask turn between iterations, so that a 'stop' message is seen.
const yieldToEvents = () => new Promise<void>((r) => setTimeout(r, 0));

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'stop') {
    stopRequested = true;
    return;
  }
  if (m.type === 'resources') {
    post({ type: 'reply', id: m.id, ok: true, value: performance.getEntriesByType('resource').map((r) => r.name) });
    return;
  }
  if (m.type === 'decode') {
    decode(m.source).then(
      (value) => post({ type: 'reply', id: m.id, ok: true, value }),
      (err: Error) => post({ type: 'reply', id: m.id, ok: false, message: err.message }),
    );
    return;
  }
  if (m.type === 'hypergradient') {
    (async () => {
      await useBackend(m.backend);
      return hypergradientOnce(m.config, await decode(m.source), m.theta, m.tol);
    })().then(
      (value) => post({ type: 'reply', id: m.id, ok: true, value }),
      (err: Error) => post({ type: 'reply', id: m.id, ok: false, message: err.message }),
    );
    return;
  }
  if (busy) {
    post({ type: 'error', message: 'playground: a run is already in progress; stop it first.' });
    return;
  }
  busy = true;
  stopRequested = false;
  (async () => {
    await useBackend(m.backend);
    const image = await decode(m.source);
    return runPlayground(m.config, image, {
      onStart: (s) => post({ type: 'start', ...s }),
      onStep: (s) => post({ type: 'step', ...s }),
      shouldStop: () => stopRequested,
      yieldToEvents,
    });
  })().then(
    (result) => post({ type: 'done', result }),
    (err: Error) => post({ type: 'error', message: err.message }),
  ).finally(() => {
    busy = false;
  });
};
