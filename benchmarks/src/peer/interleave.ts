/**
 * Interleaved timing (the method of rounds.ts): ours and every peer run blocks of the same
 * job round by round, with one warm-up call each first whose results are kept for the
 * cross-check.
 */
import { block } from './ours.js';
import { schedule, type Block } from './rounds.js';
import type { PeerWorker } from './peers.js';

/** Our side of a job: one call, and what to do with its result after timing (free it). */
export interface OursJob<T> { run: () => T; done: (out: T) => void }

export interface Interleaved<T> {
  /** The warm-up call's result (the caller frees it). */
  out: T;
  ours: Block[];
  peers: Array<{ worker: PeerWorker; blocks: Block[]; output: Record<string, unknown> }>;
}

/** `rounds` rounds of `reps` calls per side, in the alternating order of `schedule`. */
export async function interleave<T>(ours: OursJob<T>, peers: Array<{ worker: PeerWorker; job: string }>, rounds: number, reps: number): Promise<Interleaved<T>> {
  const out = ours.run();
  const outputs: Array<Record<string, unknown>> = [];
  for (const p of peers) {
    if (!p.worker.jobs.includes(p.job)) throw new Error(`bench:peer: ${p.worker.label} has no job ${p.job} (it has ${p.worker.jobs.join(', ')})`);
    outputs.push((await p.worker.block(p.job, 0, { output: true })).output ?? {});
  }
  const oursBlocks: Block[] = [];
  const peerBlocks: Block[][] = peers.map(() => []);
  for (const order of schedule(rounds, [-1, ...peers.map((_, i) => i)])) {
    for (const side of order) {
      if (side < 0) oursBlocks.push(block(ours.run, reps, ours.done));
      else {
        const r = await peers[side].worker.block(peers[side].job, reps);
        peerBlocks[side].push({ ms: r.ms, cpuMs: r.cpuMs });
      }
    }
  }
  return { out, ours: oursBlocks, peers: peers.map((p, i) => ({ worker: p.worker, blocks: peerBlocks[i], output: outputs[i] })) };
}
