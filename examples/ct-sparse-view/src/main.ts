/**
 * Sparse-view parallel-beam CT (Bogensperger, Ehrhardt, Pock, Salehi & Wong, "An adaptively inexact
 * method for bilevel learning using primal-dual style differentiation", §4.2 / Table 1, scaled down),
 * on generated random-ellipse phantoms with a held-out test set. Each method of the table is one
 * file in `methods/`, listed in `methods/index.ts`; this script builds the shared context
 * (`context.ts`), runs the selected methods in order and writes the table.
 *
 *   npx --yes pnpm@9 --filter @bilevel/example-ct-sparse-view start
 *   npx --yes pnpm@9 --filter @bilevel/example-ct-sparse-view start -- --methods fbp,tv-grid
 *   npx --yes pnpm@9 --filter @bilevel/example-ct-sparse-view start -- --size 48 --angles 30 --count 8 --iterations 20
 *   npx --yes pnpm@9 --filter @bilevel/example-ct-sparse-view start -- --methods icnn --mu icnn=0.001 --epsilon icnn=1e-4
 */
import { tf, initBackend } from '@bilevel/core';
import { parseFlags, outputFolder, writeJson, markdownTable } from '@bilevel/cli';
import { ctContext, disposeContext, type CtRow } from './context.js';
import { METHODS } from './methods/index.js';
import { CONVEX_NETWORK_FLAGS } from './network-saddle.js';
import { ACR_FLAGS } from './methods/acr.js';
import { LPD_FLAGS } from './methods/lpd.js';
import { SMOOTHING_FLAGS, smoothingRows } from './smoothing.js';

const flags = parseFlags({
  size: 32, // image side
  angles: 20, // projection angles in [0, π)
  noise: 0.02, // Gaussian noise σ relative to the largest sinogram value
  count: 3, // training phantoms
  test: 2, // held-out phantoms
  // which methods, in this order: by default FBP, TV (α by MAID), FoE and ICNN (bilevel, MAID), within
  // ≈ 15 min of single-threaded CPU at 32² (README, "Measured"); tv-grid, acr and lpd are selected with --methods
  methods: 'fbp,tv-maid,foe,icnn',
  // per row (smoothing.ts), row=value pairs over the defaults, e.g. --mu icnn=0.001: μ_g, the strong convexity of g
  // (the paper's μg, relative to ‖Â‖ = 1), and the Huber ε (TV-MAID's TV dual, quadratic where |∇x| < ε/α; the Huber-TV
  // that the FoE / ICNN 'tv' start imitates)
  ...SMOOTHING_FLAGS,
  grid: '0.001,0.002,0.003,0.005,0.01', // α grid of plain TV (the paper's TV α was hand-tuned); README, "Converged TV"
  alpha0: 0.02, // initial α of the learned models
  iterations: 10, // MAID iterations
  work: 8000, // MAID's budget of PDHG + adjoint iterations (checked inside an iteration too)
  certificate: 'estimated', // MAID's bound: 'estimated' (extrapolated, not certified) or 'certified' (Theorem 2)
  tol0: 1e-1, // MAID's initial ε₀, δ₀ (PDHG / adjoint residual tolerances)
  step0: 1, // MAID's α₀ (step on log α)
  // MAID's relativeGradTol (all learned rows): stop once the certified ‖∇F‖ ≤ ‖h‖ + bound ≤ r·‖h₀‖ (0: never)
  relativeGradTol: 1e-2,
  // piggyback's precondition for the TV rows: 'diagonal' (Pock & Chambolle 2011 elementwise steps; tv-problem.ts
  // declares |K|'s sums) or 'false' (constant steps)
  tvPrecondition: 'diagonal',
  // where TV-MAID's (μ/2)‖x − x₀‖² pulls: 'zero' (x₀ = 0) or 'fbp' (x₀ = the FBP image; README, "Converged TV")
  tvAnchor: 'fbp',
  evalTol: 1e-3,
  evalMaxIter: 800,
  seed: 0,
  out: 'out/ct-sparse-view',
  ...CONVEX_NETWORK_FLAGS, // the FoE / ICNN rows (methods/convex-network.ts)
  ...ACR_FLAGS, // the ICNN-ACR row (methods/acr.ts)
  ...LPD_FLAGS, // the LPD row (methods/lpd.ts)
});

// a misspelt row or a bad value in --mu / --epsilon stops the run here, not after the rows before it
smoothingRows(flags);
await initBackend();
const started = performance.now();
const out = outputFolder(flags.out);
const ctx = ctContext(flags);
const selected = flags.methods.split(',').map((name) => {
  const m = METHODS.find((x) => x.name === name);
  if (m == null) throw new Error(`ct-sparse-view: --methods lists '${name}', which is not one of ${METHODS.map((x) => x.name).join(', ')}.`);
  return m;
});
const rows: CtRow[] = [];
const summaries: Record<string, unknown> = {};
// CPU seconds (user + system) of this process per method: wasm runs single-threaded here, so on an idle
// machine they are the wall time; on a shared one they are what the wall time would be.
const cpu: Record<string, number> = {};
const cpuNow = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
for (const m of selected) {
  const before = tf.memory().numTensors;
  const c0 = cpuNow();
  const r = await m.run(ctx);
  cpu[m.name] = cpuNow() - c0;
  console.log(`${m.name}: ${cpu[m.name].toFixed(1)} s CPU`);
  rows.push(...r.rows);
  summaries[m.name] = r.summary ?? null;
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) console.warn(`ct-sparse-view: method '${m.name}' left ${leaked} tensors`);
}
const table = markdownTable(rows.map((r) => ({ ...r })));
console.log(table);
const totalSeconds = (performance.now() - started) / 1000;
const cpuSeconds = cpuNow();
writeJson(`${out}/summary.json`, { flags, backend: tf.getBackend(), rows, methods: summaries, totalSeconds, cpuSeconds, cpuPerMethod: cpu });
console.log(`total ${totalSeconds.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s CPU (process); ${out}/summary.json`);
disposeContext(ctx);
