/**
 * The pool section's table: per side the median wall and CPU ms of a call, where the busiest
 * thread's time went (busy = CPU + waiting for a CPU + the rest), how evenly the 8 problems
 * split, and the speed-ups as the median over rounds of the per-round ratio (peer/rounds.ts).
 */
import { median, ratioOfRounds, summarizeSide, type Block } from '../peer/rounds.js';
import { summarizeTiming } from '@bilevel/pool';
import type { PoolMeasurement, PoolSide } from './measure.js';

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

/** Per call: the summary of its timing. */
const summaries = (s: PoolSide) => s.calls.flat().map((c) => summarizeTiming(c.timing));

/**
 * The side's blocks with cpuMs replaced by the workers' CPU ms per thread (their sum / thread
 * count): the wall time of a call on free cores with an even split. Under load the threads that
 * got a core take more problems, so the busiest thread's CPU would measure the load again.
 */
function criticalBlocks(s: PoolSide): Block[] {
  return s.blocks.map((b, r) => ({ ms: b.ms, cpuMs: s.calls[r].map((c) => c.timing.threads.reduce((a, t) => a + (t.cpuMs ?? NaN), 0) / c.timing.threads.length) }));
}

function ratio(a: PoolSide, b: PoolSide): string {
  const r = ratioOfRounds(a.blocks, b.blocks);
  const c = ratioOfRounds(criticalBlocks(a), criticalBlocks(b));
  return `wall **${f2(r.wall)}×** (rounds ${f2(r.wallMin)}–${f2(r.wallMax)}); from CPU time (CPU per worker thread, i.e. free cores and an even split) ${f2(c.cpu)}×`;
}

/** Prints the section. */
export function reportPool(m: PoolMeasurement, info: { tfjs: string; warmup: number; load: string }): void {
  const [inline, one, two] = m.sides;
  console.log(`\nPool: one pooled hypergradient of a batch of 8 FoE denoising problems (64×64, 24 filters 5×5, L-BFGS tol 1e-4 + CG tol 1e-4, cold start: ${m.work} inner + linear iterations in every call), tfjs ${info.tfjs} wasm, process on CPUs 0–1; ${m.rounds} interleaved rounds of ${m.reps} calls per side (order alternating), every pool started and warmed by ${info.warmup} calls before the rounds; load average ${info.load}`);
  console.log('| side | wall ms | process CPU ms | cores | busiest thread: busy / CPU / waiting for a CPU ms | split (mean/max busy) | pool overhead ms | process CPU outside the workers ms | start ms | warm-up calls: ms (CPU outside the workers ms) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of m.sides) {
    const side = summarizeSide(s.blocks);
    const sum = summaries(s);
    const busiest = s.calls.flat().map((c) => c.timing.threads.reduce((a, t) => (t.busyMs > a.busyMs ? t : a)));
    const med = (xs: number[]) => median(xs);
    // process CPU of a call minus what its worker threads (inline: the calling thread) used: the calling thread, GC and compiler threads
    const outside = s.blocks.flatMap((b, r) => b.cpuMs.map((cpu, i) => cpu - s.calls[r][i].timing.threads.reduce((a, t) => a + (t.cpuMs ?? NaN), 0)));
    console.log(`| ${s.label} | ${f0(side.ms)} | ${f0(side.cpuMs)} | ${f2(side.cores)} | ${f0(med(busiest.map((t) => t.busyMs)))} / ${f0(med(busiest.map((t) => t.cpuMs ?? NaN)))} / ${f0(med(busiest.map((t) => t.waitMs ?? NaN)))} | ${s.threads > 1 ? f2(med(sum.map((x) => x.balance))) : '–'} | ${s.threads > 0 ? f0(med(sum.map((x) => x.overheadMs))) : '–'} | ${f0(med(outside))} | ${f0(s.startMs)} | ${s.warmupMs.map((x, i) => `${f0(x)} (${f0(s.warmupOutsideMs[i])})`).join(', ')} |`);
  }
  console.log(`  speed-up, 1 worker → 2 workers (median over rounds of the per-round ratio): ${ratio(one, two)}`);
  console.log(`  per round, in time order: ${one.blocks.map((b, r) => f2(median(b.ms) / median(two.blocks[r].ms))).join(', ')}`);
  console.log(`  speed-up, inline → 2 workers: ${ratio(inline, two)}; 1 worker against inline: ${f2(ratioOfRounds(one.blocks, inline.blocks).wall)}× the wall time`);
  // per-sample ms (median over the calls of the 1-worker side) and the split of the median 2-worker call
  const perSample = new Map<number, number[]>();
  for (const c of one.calls.flat()) for (const x of c.timing.threads[0].samples) perSample.set(x.sample, [...(perSample.get(x.sample) ?? []), x.ms]);
  console.log(`  ms per problem (1 worker, median): ${[...perSample].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}: ${f0(median(v))}`).join(', ')}`);
  const twoCalls = two.calls.flat();
  const mid = [...twoCalls].sort((a, b) => a.timing.wallMs - b.timing.wallMs)[twoCalls.length >> 1];
  console.log(`  split of the median 2-worker call (${f0(mid.timing.wallMs)} ms): ${mid.timing.threads.map((t) => `thread ${t.thread} ran ${t.samples.map((x) => x.sample).join(',')} — started after ${f2(t.startMs)} ms, busy ${f0(t.busyMs)}, CPU ${f0(t.cpuMs ?? NaN)}, waited for a CPU ${f0(t.waitMs ?? NaN)}`).join('; ')}`);
  const wall = ratioOfRounds(one.blocks, two.blocks).wall;
  const busy = two.calls.flat().flatMap((c) => c.timing.threads);
  const waited = busy.reduce((a, t) => a + (t.waitMs ?? NaN), 0) / busy.reduce((a, t) => a + t.busyMs, 0);
  console.log(`  target (issue 12: 8 problems on 2 workers ≥ 1.7× faster than on 1): ${wall >= 1.7 ? 'met' : 'NOT met'}, ${f2(wall)}×; the 2 workers waited for a CPU ${(100 * waited).toFixed(0)} % of their busy time${waited > 0.1 ? ' — the machine was not idle: other jobs took the cores (see the CPU ratio)' : ''}`);
  const calls = m.sides.flatMap((s) => s.calls.flat());
  const same = calls.filter((c) => c.same).length;
  console.log(`  same hypergradient bit for bit as the first warm-up call: ${same} of ${calls.length} timed calls${same === calls.length ? '' : ' — MISMATCH'}`);
}
