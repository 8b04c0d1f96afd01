/**
 * bench:radon — the parallel-beam Radon transform's A x and Aᵀ y (60 angles, 64²–256², batch 1 and 4) on
 * the wasm backend: ours before (the tfjs route: gather of the padded table → `[b, rows, width]` → mul →
 * sum, the code radon ran before the fused pass, on the same tables), ours now (`radon`: one pass over the
 * compressed table on the wasm heap), and PyTorch on the identical tables (benchmarks/peer/radon_torch.py:
 * sparse CSR × dense, and the same gather-mul-sum), this process on CPU 0 and PyTorch on CPU 1 at once, in
 * one run. Before and now are interleaved round by round (order alternating); a figure is the median over
 * rounds of the per-call mean. Then a TV-regularised PDHG reconstruction (Chambolle & Pock 2011, Algorithm 1)
 * at 64² and 128² with each route: wall and CPU time and the share spent in A and Aᵀ.
 * Then the fused pass alone at 512² (`BENCH_RADON_FUSED_ONLY`). Results are cross-checked (before vs now vs PyTorch). Method and table: benchmarks/README.md, "Radon transform".
 *
 *   cd benchmarks && taskset -c 0 npx tsx --conditions=@bilevel/source src/radon.ts
 *   BENCH_RADON_SIZES=64,128 BENCH_RADON_ROUNDS=3 ...      # fewer cases
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { tf, initBackend } from '@bilevel/core';
import { radon, gradient2d, divergence } from '@bilevel/imaging';
import { rayTables, paddedTable, type RayTables } from '../../packages/imaging/src/internal/radon-tables.js';

const SIZES = (process.env.BENCH_RADON_SIZES ?? '64,128,256').split(',').map(Number);
const BATCHES = [1, 4];
const ROUNDS = Number(process.env.BENCH_RADON_ROUNDS ?? 5);
const ANGLES = 60;
/** Sizes timed with the fused pass alone (the gather route's padded tables and `[b, rays, width]` intermediate at 512² are ~0.7 GB and ~0.36 GB an image). */
const FUSED_ONLY = (process.env.BENCH_RADON_FUSED_ONLY ?? '512').split(',').filter((v) => v !== '').map(Number);
const PDHG_ITERATIONS = Number(process.env.BENCH_RADON_PDHG ?? 30);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const folder = join(root, '.bench', 'radon');
const python = join(root, '.bench', 'venv', 'bin', 'python');

type Op = (v: tf.Tensor) => tf.Tensor;
interface Routes { apply: Op; adjoint: Op; dispose(): void }

/** Ours before: the tfjs route radon had (padded tables, gather → mul → sum), on the same tables. */
function gatherRoute(t: RayTables, n: number, detectors: number): Routes {
  const rays = ANGLES * detectors;
  const pixels = n * n;
  const f = paddedTable(t.rayStart, t.rayPixels, t.rayWeights, t.rayWidth, pixels);
  const g = paddedTable(t.pixelStart, t.pixelRays, t.pixelWeights, t.pixelWidth, rays);
  const fi = tf.tensor2d(f.index, [rays, t.rayWidth], 'int32');
  const fw = tf.tensor2d(f.weight, [rays, t.rayWidth]);
  const gi = tf.tensor2d(g.index, [pixels, t.pixelWidth], 'int32');
  const gw = tf.tensor2d(g.weight, [pixels, t.pixelWidth]);
  const run = (v: tf.Tensor, idx: tf.Tensor, w: tf.Tensor, columns: number, shape: number[]) => tf.tidy(() => {
    const b = v.shape[0];
    const flat = tf.concat([tf.reshape(v, [b, columns]), tf.zeros([b, 1])], 1);
    return tf.reshape(tf.sum(tf.mul(tf.gather(flat, idx, 1), w), 2), [b, ...shape]);
  });
  return {
    apply: (x) => run(x, fi, fw, pixels, [ANGLES, detectors, 1]),
    adjoint: (y) => run(y, gi, gw, rays, [n, n, 1]),
    dispose: () => tf.dispose([fi, fw, gi, gw]),
  };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

/** Mean wall and CPU ms per call of `reps` calls (each result read back: tfjs-wasm is synchronous, the read is a copy). */
function block(fn: () => tf.Tensor, reps: number): { ms: number; cpuMs: number } {
  const t0 = performance.now();
  const c0 = cpuMs();
  for (let i = 0; i < reps; i++) fn().dispose();
  return { ms: (performance.now() - t0) / reps, cpuMs: (cpuMs() - c0) / reps };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-30);
}

/** Calls per block: about 0.3 s of the slower (before) route. */
const repsFor = (n: number, b: number) => Math.max(1, Math.round(((64 / n) ** 2 * 4) / b));

/**
 * PDHG for min_x ½‖Âx − u‖² + α TV(x), Â = A/‖A‖ (normBound): y ← (y + σ(Âx̄ − u))/(1 + σ), z ← Π_{|z_i| ≤ α}(z + σ∇x̄),
 * x⁺ = x − τ(Âᵀy − div z), x̄ = 2x⁺ − x; τ = σ = 0.99/√(1 + 8). Returns wall, CPU and the ms inside A and Aᵀ.
 */
function pdhg(A: Routes, scale: number, u: tf.Tensor, n: number, alpha: number, iterations: number) {
  const step = 0.99 / Math.sqrt(9);
  let x = tf.zeros([1, n, n, 1]);
  let xbar = tf.zeros([1, n, n, 1]);
  let y = tf.zerosLike(u);
  let z = tf.zeros([1, n, n, 2]);
  let inOperator = 0;
  const timedOp = (op: Op, v: tf.Tensor) => {
    const t0 = performance.now();
    const r = op(v);
    inOperator += performance.now() - t0;
    return r;
  };
  const t0 = performance.now();
  const c0 = cpuMs();
  for (let k = 0; k < iterations; k++) {
    const next = tf.tidy(() => {
      const ax = tf.div(timedOp(A.apply, xbar), scale);
      const y1 = tf.div(tf.add(y, tf.mul(step, tf.sub(ax, u))), 1 + step);
      const zs = tf.add(z, tf.mul(step, gradient2d(xbar)));
      const z1 = tf.div(zs, tf.maximum(1, tf.div(tf.sqrt(tf.add(tf.sum(tf.square(zs), 3, true), 1e-12)), alpha)));
      const aty = tf.div(timedOp(A.adjoint, y1), scale);
      const x1 = tf.sub(x, tf.mul(step, tf.sub(aty, divergence(z1))));
      const xb = tf.sub(tf.mul(2, x1), x);
      return [x1, xb, y1, z1];
    });
    tf.dispose([x, xbar, y, z]);
    [x, xbar, y, z] = next;
  }
  const wall = performance.now() - t0;
  const cpu = cpuMs() - c0;
  const result = x.dataSync().slice();
  tf.dispose([x, xbar, y, z]);
  return { wall, cpu, inOperator, result };
}

async function main() {
  await initBackend({ backend: 'wasm', log: false });
  mkdirSync(folder, { recursive: true });
  console.log(`bench:radon — ${ANGLES} angles, wasm backend, rounds ${ROUNDS}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${cpus().length} CPUs, ${new Date().toISOString()}`);
  // 1. tables (the operator's own, rebuilt here for ours-before and for the peer) and inputs
  const cases = SIZES.map((n) => {
    const A = radon(n, { angles: ANGLES });
    const angles = Array.from({ length: ANGLES }, (_, k) => (k * Math.PI) / ANGLES);
    const t = rayTables(n, angles, A.detectors, 1, 0.5);
    const rays = ANGLES * A.detectors;
    const x = tf.randomUniform([4, n, n, 1], 0, 1, 'float32', 1);
    const y = tf.randomNormal([4, ...A.outShape], 0, 1, 'float32', 2);
    const write = (name: string, a: Int32Array | Float32Array) => writeFileSync(join(folder, `${n}-${name}.bin`), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    write('forward-start', t.rayStart); write('forward-index', t.rayPixels); write('forward-weight', t.rayWeights);
    write('backward-start', t.pixelStart); write('backward-index', t.pixelRays); write('backward-weight', t.pixelWeights);
    write('x', x.dataSync() as Float32Array); write('y', y.dataSync() as Float32Array);
    const entries = t.rayStart[rays];
    console.log(`${n}²: ${rays} rays, ${entries} entries; padded: ray table ${(rays * t.rayWidth / entries).toFixed(2)}× (width ${t.rayWidth}), pixel table ${(n * n * t.pixelWidth / entries).toFixed(2)}× (width ${t.pixelWidth})`);
    return { n, A, t, rays, x, y, before: gatherRoute(t, n, A.detectors) };
  });
  const meta = { rounds: ROUNDS, cases: cases.map((c) => ({ n: c.n, rays: c.rays, pixels: c.n * c.n, batches: BATCHES })) };
  writeFileSync(join(folder, 'meta.json'), JSON.stringify(meta));
  // 2. PyTorch on CPU 1, running while ours runs on CPU 0
  const peer = existsSync(python)
    ? new Promise<number>((resolve) => {
      const child = spawn('taskset', ['-c', '1', python, join(root, 'peer', 'radon_torch.py'), folder], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } });
      child.on('exit', (code) => resolve(code ?? 1));
    })
    : Promise.resolve(-1);
  // 3. ours before vs now, interleaved
  const rows: string[] = [];
  const ours: Record<string, { before: { ms: number; cpuMs: number }; now: { ms: number; cpuMs: number }; check: number }> = {};
  for (const c of cases) {
    for (const b of BATCHES) {
      for (const op of ['forward', 'backward'] as const) {
        const v = op === 'forward' ? tf.slice(c.x, [0], [b]) : tf.slice(c.y, [0], [b]);
        const beforeFn = () => (op === 'forward' ? c.before.apply(v) : c.before.adjoint(v));
        const nowFn = () => (op === 'forward' ? c.A.apply(v) : c.A.adjoint(v));
        const [rb, rn] = [beforeFn(), nowFn()];
        const check = relDiff(rn.dataSync(), rb.dataSync());
        tf.dispose([rb, rn]);
        const reps = repsFor(c.n, b);
        const fast = Math.max(reps, 20);
        const samples = { before: [] as Array<{ ms: number; cpuMs: number }>, now: [] as Array<{ ms: number; cpuMs: number }> };
        for (let r = 0; r < ROUNDS; r++) {
          if (r % 2 === 0) {
            samples.before.push(block(beforeFn, reps));
            samples.now.push(block(nowFn, fast));
          } else {
            samples.now.push(block(nowFn, fast));
            samples.before.push(block(beforeFn, reps));
          }
        }
        const pick = (s: Array<{ ms: number; cpuMs: number }>) => ({ ms: median(s.map((q) => q.ms)), cpuMs: median(s.map((q) => q.cpuMs)) });
        ours[`${c.n}-${b}-${op}`] = { before: pick(samples.before), now: pick(samples.now), check };
        v.dispose();
      }
    }
  }
  // 4. a TV reconstruction with each route (ours before / now), interleaved: before, now, before, now
  const solves: string[] = [];
  for (const c of cases.filter((q) => q.n <= 128)) {
    const u = tf.tidy(() => tf.div(c.A.apply(tf.slice(c.x, [0], [1])), c.A.normBound!));
    const runs = { before: [] as ReturnType<typeof pdhg>[], now: [] as ReturnType<typeof pdhg>[] };
    const routes = { before: c.before, now: { apply: (v: tf.Tensor) => c.A.apply(v), adjoint: (v: tf.Tensor) => c.A.adjoint(v), dispose() {} } };
    for (let r = 0; r < 2; r++) for (const k of ['before', 'now'] as const) runs[k].push(pdhg(routes[k], c.A.normBound!, u, c.n, 0.01, PDHG_ITERATIONS));
    u.dispose();
    const best = (k: 'before' | 'now') => runs[k].reduce((a, q) => (q.wall < a.wall ? q : a));
    const [bb, bn] = [best('before'), best('now')];
    solves.push(`| ${c.n}² | ${PDHG_ITERATIONS} | ${bb.wall.toFixed(0)} / ${bb.cpu.toFixed(0)} | ${(100 * bb.inOperator / bb.wall).toFixed(0)} % | ${bn.wall.toFixed(0)} / ${bn.cpu.toFixed(0)} | ${(100 * bn.inOperator / bn.wall).toFixed(0)} % | ${(bb.wall / bn.wall).toFixed(0)}× / ${(bb.cpu / bn.cpu).toFixed(0)}× | ${relDiff(bn.result, bb.result).toExponential(1)} |`);
  }
  // 5. the peer's figures and the cross-check on its CSR products
  const code = await peer;
  const torch = code === 0 ? JSON.parse(readFileSync(join(folder, 'torch.json'), 'utf8')) as { torch: string; threads: number; cases: Array<{ n: number; b: number; op: string; csr: { ms: number; cpuMs: number }; gather: { ms: number; cpuMs: number } }> } : null;
  if (torch == null) console.log(code === -1 ? `(no PyTorch: ${python} missing; see benchmarks/README.md)` : `(PyTorch exited with ${code})`);
  const peerCheck: Record<string, number> = {};
  if (torch != null) {
    for (const c of cases) {
      for (const op of ['forward', 'backward'] as const) {
        const theirs = new Float32Array(readFileSync(join(folder, `${c.n}-${op}-torch.bin`)).buffer.slice(0));
        const mine = tf.tidy(() => (op === 'forward' ? c.A.apply(c.x) : c.A.adjoint(c.y)).dataSync().slice());
        peerCheck[`${c.n}-${op}`] = relDiff(mine, theirs);
      }
    }
  }
  const num = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
  const fmt = (q: { ms: number; cpuMs: number } | undefined) => (q == null ? '–' : `${num(q.ms)} / ${num(q.cpuMs)}`);
  console.log(`\nms per call, wall / CPU (process CPU time: what the call cost while the host is shared); ours on CPU 0, PyTorch ${torch?.torch ?? '–'} (${torch?.threads ?? '–'} thread) on CPU 1; ratios of CPU ms`);
  console.log('| image | b | op | ours before (gather) | ours now (fused) | before / now | PyTorch CSR | PyTorch gather | now / CSR | now vs before | now vs PyTorch |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of cases) {
    for (const b of BATCHES) {
      for (const op of ['forward', 'backward'] as const) {
        const o = ours[`${c.n}-${b}-${op}`];
        const p = torch?.cases.find((q) => q.n === c.n && q.b === b && q.op === op);
        rows.push(`| ${c.n}² | ${b} | ${op === 'forward' ? 'A x' : 'Aᵀ y'} | ${fmt(o.before)} | ${fmt(o.now)} | ${(o.before.cpuMs / o.now.cpuMs).toFixed(0)}× | ${fmt(p?.csr)} | ${fmt(p?.gather)} | ${p == null ? '–' : (o.now.cpuMs / p.csr.cpuMs).toFixed(2)} | ${o.check.toExponential(1)} | ${peerCheck[`${c.n}-${op}`]?.toExponential(1) ?? '–'} |`);
      }
    }
  }
  console.log(rows.join('\n'));
  console.log(`\nTV-PDHG, 1 image, α = 0.01, Â = A/normBound (ms wall / CPU, best of 2 interleaved; share = time inside A and Aᵀ)`);
  console.log('| image | iterations | before wall / CPU | before: in A, Aᵀ | now wall / CPU | now: in A, Aᵀ | speed-up wall / CPU | x now vs before |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(solves.join('\n'));
  for (const n of FUSED_ONLY) {
    const t0 = performance.now();
    const A = radon(n, { angles: ANGLES });
    const build = performance.now() - t0;
    const cells = BATCHES.flatMap((b) => {
      const x = tf.randomUniform([b, n, n, 1], 0, 1, 'float32', 1);
      const y = tf.randomNormal([b, ...A.outShape], 0, 1, 'float32', 2);
      const t = [block(() => A.apply(x), 1), block(() => A.apply(x), 5), block(() => A.adjoint(y), 1), block(() => A.adjoint(y), 5)];
      tf.dispose([x, y]);
      return [`b ${b}: A x ${fmt(t[1])}, Aᵀ y ${fmt(t[3])}`];
    });
    console.log(`\nfused only, ${n}²: table build ${(build / 1e3).toFixed(1)} s, ${cells.join('; ')} (ms wall / CPU, 5 calls after 1); rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    A.dispose();
  }
  console.log(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const c of cases) {
    c.before.dispose();
    c.A.dispose();
    tf.dispose([c.x, c.y]);
  }
  if (tf.memory().numTensors !== 0) console.log(`tensors left: ${tf.memory().numTensors}`);
}

await main();
