// Profiling aid (not part of bench:peer): where the one-shot HVP's time goes against the gradient's, at bench:peer's
// shapes (FoE 96², 30 filters 7×7, 'same', Student-t), CPU ms per call, R interleaved rounds of N calls of each piece
// (order alternating), medians and ranges over the rounds. The pieces are the parts of filter-passes.ts's routes:
//   first      the gradient's pass (C x, t/(1 + t²) from the taps), heap arrays ready (filter copy + zero padding in it)
//   curvature  the HVP's pass (C x and C v, ((1 − t²)/(1 + t²)²) ⊙ C v), heap arrays ready (two paddings in it)
//   Cᵀ         the transposed convolution by tfjs (core's Conv2DBackpropInput replacement), filters ready
//   Cᵀ pass    the transposed convolution by the SIMD pass the routes run (filter-passes.ts transposedPass), filters ready
//   cg         one product of the Hessian prepared at x (h.apply(v): a CG iteration's product)
//   hypergradient (HG=1, batch 1 only, 1 call a round) bench:peer's identical-work implicit hypergradient (100 GD + 30 CG)
// and the whole calls (gradient, hvp, cg, hypergradient) "with tfjs Cᵀ": the pass's Cᵀ replaced by tfjs's conv2dTranspose
// (core's Conv2DBackpropInput, what ran before the pass) writing into the pass's output, which adds a [S, S, 1, K] upload
// and a copy of the output (the piece 'tfjs Cᵀ overhead': both without the convolution)
//   pad        the JS zero padding of one image into a pass's scratch (the passes do it once (first) or twice (curvature))
//   params     per-call θ work: exp(−log ν), dataSync of filters and scale, the adjoint filters c·w·f
//   data       the energy's data term: sub(x, y) + addN (gradient) or addN(v, H_R v) (HVP)
// and the whole calls (problem.gradient, problem.hvp), also with the passes' wasm loops replaced by nothing ("no pass":
// what the routes cost besides their passes), and the two routes with nothing but pass + Cᵀ + data term ("minimal").
//   taskset -c 0 npx tsx --conditions=@bilevel/source src/_hvp-breakdown.ts     (R=9 N=10 BS=1,8 HG=0)
import { tf, initBackend } from '@bilevel/core';
import { foe, foeInputs } from './peer/workloads.js';
import { block, identicalWork } from './peer/ours.js';
import { median } from './peer/rounds.js';
import { foeStep } from './peer/workloads.js';
import { filterSimdOf, CONVOLVE, type FilterGeometry } from '../../packages/imaging/src/internal/filter-simd.js';
import { transposedPass } from '../../packages/imaging/src/internal/filter-passes.js';

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
  const h = problem.hessianAt(c.clean, c.theta, data);
  // the routes as before the SIMD Cᵀ: tfjs's conv2dTranspose, its output copied where the pass would write
  const heapCopy = (t: tf.Tensor, outAt: number, size: number) => {
    const at = backend.dataIdMap.get(t.dataId)!.memoryOffset >> 2;
    backend.wasm.HEAPF32.copyWithin(outAt >> 2, at, at + size);
  };
  const tfjsTransposed = (dy: tf.Tensor, f: Float32Array, at: number, gt: FilterGeometry, convolve = true) => tf.tidy(() => {
    const w = tf.tensor4d(f, [gt.kh, gt.kw, 1, gt.co]);
    const size = gt.n * gt.h * gt.w;
    if (!convolve) return heapCopy(dy, at, size);
    heapCopy(tf.conv2dTranspose(dy as tf.Tensor4D, w, [gt.n, gt.h, gt.w, 1], 1, gt.h === gt.oh ? 'same' : 'valid'), at, size);
  });
  const withTfjs = <T>(f: () => T, convolve = true): T => {
    const pass = simd.transposed;
    simd.transposed = (dy, filters, at, gt) => tfjsTransposed(dy, filters, at, gt, convolve);
    try { return f(); } finally { simd.transposed = pass; }
  };
  const hgStep = foeStep(c.theta, c.y.shape);
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
    'first+Cᵀ+data': () => { simd.convolve(c.clean, filters, scale, null, outAt, g, CONVOLVE.first); return tf.tidy(() => [tf.addN([tf.sub(c.clean, c.y), transposedPass(simd, outTensor, adjoint, 'same')])]); },
    'curv+Cᵀ+data': () => { simd.curvature(c.clean, c.v, filters, scale, outAt, g); return tf.tidy(() => [tf.addN([c.v, transposedPass(simd, outTensor, adjoint, 'same')])]); },
    'Cᵀ': () => tf.conv2dTranspose(outTensor as tf.Tensor4D, adjoint as tf.Tensor4D, [B, 96, 96, 1], 1, 'same'),
    'Cᵀ pass': () => transposedPass(simd, outTensor, adjoint, 'same'),
    cg: () => h.apply(c.v),
    'gradient, tfjs Cᵀ': () => withTfjs(() => problem.gradient(c.clean, c.theta, data)),
    'hvp, tfjs Cᵀ': () => withTfjs(() => problem.hvp(c.clean, c.theta, data, c.v)),
    'cg, tfjs Cᵀ': () => withTfjs(() => h.apply(c.v)),
    'tfjs Cᵀ overhead': () => withTfjs(() => transposedPass(simd, outTensor, adjoint, 'same'), false),
    ...(process.env.HG === '1' && B === 1 ? {
      hypergradient: () => { const r = identicalWork(problem, c.theta, c.y, c.clean, hgStep); for (const t of Object.values(r.grad)) t.dataSync(); r.dispose(); },
      'hypergradient, tfjs Cᵀ': () => withTfjs(() => { const r = identicalWork(problem, c.theta, c.y, c.clean, hgStep); for (const t of Object.values(r.grad)) t.dataSync(); r.dispose(); }),
    } : {}),
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
    for (const n of r % 2 === 0 ? names : [...names].reverse()) cpu[n].push(median(block(pieces[n], n.startsWith('hypergradient') ? 1 : N, settle).cpuMs));
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
  line('gradient − (first + Cᵀ pass): JS, kernels, data', (i) => cpu.gradient[i] - cpu.first[i] - cpu['Cᵀ pass'][i]);
  line('hvp − (curvature + Cᵀ pass)', (i) => cpu.hvp[i] - cpu.curvature[i] - cpu['Cᵀ pass'][i]);
  line('Cᵀ pass / Cᵀ (tfjs)', (i) => cpu['Cᵀ pass'][i] / cpu['Cᵀ'][i]);
  line('cg / gradient', (i) => cpu.cg[i] / cpu.gradient[i]);
  for (const n of ['gradient', 'hvp', 'cg', ...(cpu.hypergradient != null ? ['hypergradient'] : [])]) line(`${n}: tfjs Cᵀ / pass`, (i) => cpu[`${n}, tfjs Cᵀ`][i] / cpu[n][i]);
  line('with tfjs Cᵀ: hvp / gradient', (i) => cpu['hvp, tfjs Cᵀ'][i] / cpu['gradient, tfjs Cᵀ'][i]);
  line('with tfjs Cᵀ: cg / gradient', (i) => cpu['cg, tfjs Cᵀ'][i] / cpu['gradient, tfjs Cᵀ'][i]);
  line('minimal routes: hvp / gradient', (i) => cpu['curv+Cᵀ+data'][i] / cpu['first+Cᵀ+data'][i]);
  // the floor with the passes as they are: everything but the passes costs the same on both routes (the no-pass line)
  line('floor 1 + (curvature − first)/gradient', (i) => 1 + (cpu.curvature[i] - cpu.first[i]) / cpu.gradient[i]);
  // and without the pass's zero lanes (K = 30 filters computed as 32: the curvature pass's 8-channel tiles)
  const lanes = Math.ceil(co / 8) * 8;
  line(`floor 1 + (curvature − first)·${co}/${lanes}/gradient`, (i) => 1 + ((cpu.curvature[i] - cpu.first[i]) * co) / lanes / cpu.gradient[i]);
  h.dispose();
  tf.dispose([outTensor, adjoint, c.clean, c.y, c.v, ...Object.values(c.theta)]);
  dispose();
}
