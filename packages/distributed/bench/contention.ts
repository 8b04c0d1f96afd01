// How much CPU the same FoE jobs cost when 1 or 2 processes run them at once, without any
// job engine: each process runs the jobs of @bilevel/pool's bench task in process (inline
// pool, after 2 warm-ups) and reports its own CPU time per job. More CPU per job with 2
// processes is the cores' shared caches and memory, not BullMQ or Redis.
//   cd packages/distributed && taskset -c 0,1 npx tsx --conditions=@bilevel/source bench/contention.ts [reps]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initBackend, inlinePool, pooledHypergradient, disposeParams } from '@bilevel/core';
import foeTask, { benchTheta } from '../../../benchmarks/src/pool/foe-task.js';

const [role, jobsArg, repsArg] = process.argv.slice(2);
if (role === 'child') {
  await initBackend({ backend: 'wasm', log: false });
  const pool = inlinePool(foeTask());
  const theta = benchTheta();
  const samples = Array.from({ length: Number(jobsArg) }, (_, i) => i);
  for (let i = 0; i < 2; i++) pooledHypergradient(pool, { theta, samples, warmStart: false }).dispose();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < Number(repsArg); i++) pooledHypergradient(pool, { theta, samples, warmStart: false }).dispose();
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ cpuPerJob: (c.user + c.system) / 1000 / Number(repsArg) / samples.length, wallPerJob: (performance.now() - t0) / Number(repsArg) / samples.length }));
  disposeParams(theta);
  process.exit(0);
}
const reps = Number(role ?? 3);
const self = fileURLToPath(import.meta.url);
const run = (n: number) => Promise.all(Array.from({ length: n }, () => new Promise<{ cpuPerJob: number; wallPerJob: number }>((resolve, reject) => {
  const p = spawn(process.execPath, ['--conditions=@bilevel/source', '--import', 'tsx', self, 'child', '4', String(reps)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`child exited ${code}: ${out}`))));
})));
for (const n of [1, 2]) {
  const r = await run(n);
  console.log(`${n} process(es) at once, 4 FoE jobs each × ${reps}: CPU per job ${r.map((x) => x.cpuPerJob.toFixed(1)).join(', ')} ms; wall per job ${r.map((x) => x.wallPerJob.toFixed(1)).join(', ')} ms`);
}
