// Profiling aid for bench:pool's task (foe-task.ts), inline in this thread: per call the wall
// and CPU ms, the scavenges and their ms (perf_hooks 'gc' entries), the tfjs kernels run by
// name, and — with `--heap` — where the JS-heap allocations of one call come from (V8's
// sampling heap profiler, collected objects included), by allocating function.
//   cd benchmarks && taskset -c 0 npx tsx --conditions=@bilevel/source src/pool/_allocation.ts [calls] [--heap]
import { PerformanceObserver } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { tf, initBackend, inlinePool, pooledHypergradient } from '@bilevel/core';
import task, { benchTheta } from './foe-task.js';

const calls = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 6);
await initBackend({ backend: 'wasm', log: false });
const theta = benchTheta();
const pool = inlinePool(task());
const call = () => pooledHypergradient(pool, { theta, samples: [0, 1, 2, 3, 4, 5, 6, 7], warmStart: false }).dispose();

const gcs: number[] = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) gcs.push(e.duration); }).observe({ entryTypes: ['gc'] });
// one uncounted call first: kernels the library registers on first use (imaging's TV and padding kernels) are then counted too
call();
const kernels = new Map<string, number>();
for (const k of tf.getKernelsForBackend('wasm')) {
  const f = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, 'wasm');
  tf.registerKernel({ ...k, kernelFunc: ((a: never) => { kernels.set(k.kernelName, (kernels.get(k.kernelName) ?? 0) + 1); return f(a); }) as never });
}
for (let i = 0; i < calls; i++) {
  const g0 = gcs.length;
  kernels.clear();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  call();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await new Promise((r) => setTimeout(r, 20)); // let the gc entries arrive
  const mine = gcs.slice(g0);
  const n = [...kernels.values()].reduce((a, b) => a + b, 0);
  console.log(`call ${i}: ${ms.toFixed(0)} ms wall, ${((c.user + c.system) / 1000).toFixed(0)} ms CPU; ${mine.length} GCs, ${mine.reduce((a, b) => a + b, 0).toFixed(1)} ms; ${n} kernels`);
}
console.log(`kernels of the last call: ${[...kernels].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k} ${v}`).join(', ')}`);

if (process.argv.includes('--heap')) {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  call();
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: Node } };
  type Node = { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] };
  const self = new Map<string, number>();
  let total = 0;
  const walk = (node: Node) => {
    const f = node.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*\/(packages|benchmarks)\//, '$1/')}:${f.lineNumber + 1}`;
    total += node.selfSize;
    if (node.selfSize > 0) self.set(name, (self.get(name) ?? 0) + node.selfSize);
    node.children.forEach(walk);
  };
  walk(profile.head);
  console.log(`JS-heap allocation of one call (sampled): ${(total / 1e6).toFixed(0)} MB; by allocating function:`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${(v / 1e6).toFixed(1).padStart(7)} MB  ${k}`);
}
