// Profiling aid (not part of bench:peer): where the one-shot HVP's time goes against the gradient's, at bench:peer's
// shapes (FoE 96², 30 filters 7×7, 'same', Student-t), CPU ms per call, R interleaved rounds of N calls of each piece
// (order alternating), medians and ranges over the rounds. The pieces are the parts of filter-passes.ts's routes:
//   first      the gradient's pass (C x, t/(1 + t²) from the taps), heap arrays ready (filter copy + zero padding in it)
//   curvature  the HVP's pass (C x and C v, ((1 − t²)/(1 + t²)²) ⊙ C v), heap arrays ready (two paddings in it)
//   Cᵀ         the transposed convolution (core's Conv2DBackpropInput replacement), filters ready
//   pad        the JS zero padding of one image into a pass's scratch (the passes do it once (first) or twice (curvature))
//   params     per-call θ work: exp(−log ν), dataSync of filters and scale, the adjoint filters c·w·f
//   data       the energy's data term: sub(x, y) + addN (gradient) or addN(v, H_R v) (HVP)
// and the whole calls (problem.gradient, problem.hvp), also with the passes' wasm loops replaced by nothing ("no pass":
// what the routes cost besides their passes), and the two routes with nothing but pass + Cᵀ + data term ("minimal").
//   taskset -c 0 npx tsx --conditions=@bilevel/source src/_hvp-breakdown.ts     (R=9 N=10 BS=1,8)
import { tf, initBackend } from '@bilevel/core';
import { foe, foeInputs } from './peer/workloads.js';
import { block } from './peer/ours.js';
import { median } from './peer/rounds.js';
import { filterSimdOf, CONVOLVE, type FilterGeometry } from '../../packages/imaging/src/internal/filter-simd.js';

await initBackend({ backend: 'wasm', log: false });
const R = Number(process.env.R ?? 9), N = Number(process.env.N ?? 10);
const simd = filterSimdOf(tf.backend());
if (simd == null) throw new Error('_hvp-breakdown: no SIMD loops on this backend');
type Backend = { makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo; dataIdMap: { get(id: object): { memoryOffset: number } | undefined }; wasm: { HEAPF32: Float32Array } };
const backend = tf.backend() as unknown as Backend;
const settle = (o: tf.Tensor | tf.Tensor[] | void) => { if (o == null) return; const ts = Array.isArray(o) ? o : [o]; for (const t of ts) t.dataSync(); tf.dispose(ts); };
for (const B of (process.env.BS ?? '1,8').split(',').map(Number)) {
  const c = foeInputs(B, 96);
  const { problem, dispose } = foe(true);
  const data = { y: c.y };
  const [kh, kw, , co] = c.theta.filters.shape as number[];
  const g: FilterGeometry = { n: B, h: 96, w: 96, kh, kw, co, oh: 96, ow: 96, top: (kh - 1) >> 1, left: (kw - 1) >> 1 };
  const filters = c.theta.filters.dataSync() as Float32Array;
  const scale = tf.tidy(() => tf.exp(tf.neg(c.theta.logNu))).dataSync() as Float32Array;
  const info = backend.makeOutput([B, 96, 96, co], 'float32');
  const outTensor = tf.engine().makeTensorFromTensorInfo(info);
  const outAt = backend.dataIdMap.get(info.dataId)!.memoryOffset;
  const adjoint = tf.tidy(() => tf.mul(c.theta.filters, tf.mul(tf.exp(c.theta.logAlpha), tf.mul(2, tf.exp(tf.neg(c.theta.logNu))))));
  const scratch = new Float32Array(103 * 103);
  const xAt = backend.dataIdMap.get(c.clean.dataId)!.memoryOffset >> 2;
  const noPass = (f: () => tf.Tensor) => {
    const [cv, cu] = [simd.convolve, simd.curvature];
    simd.convolve = () => true;
    simd.curvature = () => {};
    try { return f(); } finally { [simd.convolve, simd.curvature] = [cv, cu]; }
  };
  const pieces: Record<string, () => tf.Tensor | tf.Tensor[] | void> = {
    gradient: () => problem.gradient(c.clean, c.theta, data),
    hvp: () => problem.hvp(c.clean, c.theta, data, c.v),
    // the whole calls with the passes' wasm loops replaced by nothing (their JS, padding and kernels remain)
    'gradient, no pass': () => noPass(() => problem.gradient(c.clean, c.theta, data)),
    'hvp, no pass': () => noPass(() => problem.hvp(c.clean, c.theta, data, c.v)),
    first: () => { simd.convolve(c.clean, filters, scale, null, outAt, g, CONVOLVE.first); },
    curvature: () => { simd.curvature(c.clean, c.v, filters, scale, outAt, g); },
    // the two routes with nothing but their passes, Cᵀ and the data term (θ's arrays and the adjoint filters ready)
    'first+Cᵀ+data': () => { simd.convolve(c.clean, filters, scale, null, outAt, g, CONVOLVE.first); return tf.tidy(() => [tf.addN([tf.sub(c.clean, c.y), tf.conv2dTranspose(outTensor as tf.Tensor4D, adjoint as tf.Tensor4D, [B, 96, 96, 1], 1, 'same')])]); },
    'curv+Cᵀ+data': () => { simd.curvature(c.clean, c.v, filters, scale, outAt, g); return tf.tidy(() => [tf.addN([c.v, tf.conv2dTranspose(outTensor as tf.Tensor4D, adjoint as tf.Tensor4D, [B, 96, 96, 1], 1, 'same')])]); },
    'Cᵀ': () => tf.conv2dTranspose(outTensor as tf.Tensor4D, adjoint as tf.Tensor4D, [B, 96, 96, 1], 1, 'same'),
    // the passes' zero padding of one image (filter-simd.ts layout.pad), B images
    pad: () => {
      const h = backend.wasm.HEAPF32;
      for (let i = 0; i < B; i++) {
        scratch.fill(0);
        for (let r = 0; r < 96; r++) scratch.set(h.subarray(xAt + i * 9216 + r * 96, xAt + i * 9216 + r * 96 + 96), (r + 3) * 103 + 3);
      }
    },
    params: () => tf.tidy(() => {
      const s = tf.exp(tf.neg(c.theta.logNu));
      s.dataSync(); c.theta.filters.dataSync();
      const inverse = tf.exp(tf.neg(c.theta.logNu));
      return [tf.mul(c.theta.filters, tf.mul(tf.exp(c.theta.logAlpha), tf.mul(2, inverse)))];
    }),
    'data (gradient)': () => tf.tidy(() => [tf.addN([tf.sub(c.clean, c.y), c.v])]),
    'data (hvp)': () => tf.tidy(() => [tf.addN([c.v, c.clean])]),
  };
  const names = Object.keys(pieces);
  for (const n of names) block(pieces[n], 5, settle);
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < R; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse()) cpu[n].push(median(block(pieces[n], N, settle).cpuMs));
  }
  const fmt = (xs: number[]) => `${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;
  console.log(`batch ${B}: CPU ms per call, median (range) of ${R} rounds of ${N}`);
  for (const n of names) console.log(`  ${n.padEnd(16)} ${fmt(cpu[n])}`);
  const perRound = (f: (i: number) => number) => cpu.gradient.map((_, i) => f(i));
  const line = (label: string, f: (i: number) => number) => console.log(`  ${label.padEnd(44)} ${fmt(cpu.gradient.map((_, i) => f(i)))}`);
  line('hvp / gradient', (i) => cpu.hvp[i] / cpu.gradient[i]);
  line('hvp − gradient', (i) => cpu.hvp[i] - cpu.gradient[i]);
  line('curvature − first (the extra convolution)', (i) => cpu.curvature[i] - cpu.first[i]);
  line('(hvp − gradient), both with no pass', (i) => cpu['hvp, no pass'][i] - cpu['gradient, no pass'][i]);
  line('gradient − (first + Cᵀ): JS, kernels, data', (i) => cpu.gradient[i] - cpu.first[i] - cpu['Cᵀ'][i]);
  line('hvp − (curvature + Cᵀ)', (i) => cpu.hvp[i] - cpu.curvature[i] - cpu['Cᵀ'][i]);
  line('minimal routes: hvp / gradient', (i) => cpu['curv+Cᵀ+data'][i] / cpu['first+Cᵀ+data'][i]);
  // the floor with the passes as they are: everything but the passes costs the same on both routes (the no-pass line)
  line('floor 1 + (curvature − first)/gradient', (i) => 1 + (cpu.curvature[i] - cpu.first[i]) / cpu.gradient[i]);
  // and without the pass's zero lanes (K = 30 filters computed as 32: the curvature pass's 8-channel tiles)
  const lanes = Math.ceil(co / 8) * 8;
  line(`floor 1 + (curvature − first)·${co}/${lanes}/gradient`, (i) => 1 + ((cpu.curvature[i] - cpu.first[i]) * co) / lanes / cpu.gradient[i]);
  tf.dispose([outTensor, adjoint, c.clean, c.y, c.v, ...Object.values(c.theta)]);
  dispose();
}
