import { tf, initBackend } from '@bilevel/core';
import { foeInputs } from './peer/workloads.js';
import { filterSimdOf, CONVOLVE } from '../../packages/imaging/src/internal/filter-simd.js';
await initBackend({ backend: 'wasm', log: false });
const B = Number(process.env.B ?? 1);
const c = foeInputs(B, 96);
const f = c.theta.filters;
const simd = filterSimdOf(tf.backend())!;
const scaleT = tf.exp(tf.neg(tf.add(c.theta.logNu, 0.3)));
const fArr = f.dataSync() as Float32Array; const sArr = scaleT.dataSync() as Float32Array;
const co = 30;
const g = { n: B, h: 96, w: 96, kh: 7, kw: 7, co, oh: 96, ow: 96, top: 3, left: 3 };
const be = tf.backend() as any;
const curv = tf.tidy(() => { const t = tf.conv2d(c.clean as tf.Tensor4D, tf.mul(f, scaleT) as tf.Tensor4D, 1, 'same'); const t2 = tf.square(t); return tf.div(tf.sub(1, t2), tf.square(tf.add(t2, 1))); });
const refs: Record<string, () => tf.Tensor> = {
  first: () => tf.tidy(() => { const t = tf.conv2d(c.clean as tf.Tensor4D, tf.mul(f, scaleT) as tf.Tensor4D, 1, 'same'); return tf.div(t, tf.add(tf.square(t), 1)); }),
  second: () => tf.tidy(() => { const t = tf.conv2d(c.clean as tf.Tensor4D, tf.mul(f, scaleT) as tf.Tensor4D, 1, 'same'); const t2 = tf.square(t); return tf.div(tf.sub(1, t2), tf.square(tf.add(t2, 1))); }),
  times: () => tf.tidy(() => tf.mul(curv, tf.conv2d(c.v as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'))),
};
const mine = (mode: keyof typeof CONVOLVE) => () => {
  const info = be.makeOutput([B, 96, 96, co], 'float32');
  const out = tf.engine().makeTensorFromTensorInfo(info);
  simd.convolve(mode === 'times' ? c.v : c.clean, fArr, sArr, mode === 'times' ? curv : null, be.dataIdMap.get(info.dataId).memoryOffset, g, CONVOLVE[mode]);
  return out;
};
const time = (fn: () => tf.Tensor) => {
  for (let i = 0; i < 3; i++) { const o = fn(); o.dataSync(); o.dispose(); }
  const per: number[] = [];
  for (let k = 0; k < 9; k++) { const c0 = process.cpuUsage(); for (let i = 0; i < 10; i++) { const o = fn(); o.dataSync(); o.dispose(); } const d = process.cpuUsage(c0); per.push((d.user + d.system) / 1000 / 10); }
  per.sort((x, y) => x - y);
  return `${per[0].toFixed(2)}/${per[4].toFixed(2)}`;
};
for (const mode of ['first', 'second', 'times'] as const) {
  const a = refs[mode](), b = mine(mode)();
  const rel = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(a)).dataSync()[0]);
  tf.dispose([a, b]);
  console.log(`b${B} ${mode}: rel diff ${rel.toExponential(2)}; tfjs ${time(refs[mode])} simd ${time(mine(mode))} CPU ms best/med`);
}
