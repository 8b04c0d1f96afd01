/**
 * The interleaved timing of bench:peer, its pure part (no tfjs, no Python): which side runs
 * when, and how the rounds become one ratio.
 *
 * A measurement is R rounds; in each round every side (ours, then each peer) runs one block of
 * N calls of the same primitive, so all sides see the same minutes of the host. Host drift
 * (another job starting, the clock or the caches of a shared machine) then moves both sides of a
 * round together and cancels in the round's ratio of medians; the reported ratio is the median
 * of the R per-round ratios. The order within a round alternates (ours first in even rounds,
 * last in odd ones), so a drift that is linear in time favours neither side.
 */

/** One block of calls of one side: wall ms and CPU ms (process CPU time) of each call. */
export interface Block { ms: number[]; cpuMs: number[] }

/** The order of the sides in each of `rounds` rounds: `sides` in even rounds, reversed in odd ones. */
export function schedule<S>(rounds: number, sides: readonly S[]): S[][] {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench:peer schedule: rounds must be a positive integer, got ${rounds} (set BENCH_ROUNDS ≥ 1)`);
  return Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? [...sides] : [...sides].reverse()));
}

/** A side of an interleaved measurement: times one block of `reps` calls (synchronously or not). */
export interface Side { block(reps: number): Block | Promise<Block> }

/**
 * Runs `rounds` rounds of one block of `reps` calls per side, in the order of `schedule`
 * (the sides' order in even rounds, reversed in odd ones); returns each side's blocks, one per round.
 */
export async function alternate(sides: readonly Side[], rounds: number, reps: number): Promise<Block[][]> {
  const blocks: Block[][] = sides.map(() => []);
  for (const order of schedule(rounds, sides.map((_, i) => i))) {
    for (const i of order) blocks[i].push(await sides[i].block(reps));
  }
  return blocks;
}

/** The median (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('bench:peer median: no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One side over all its rounds: medians of every call pooled, and cores = CPU / wall of the median block. */
export interface SideSummary { ms: number; cpuMs: number; cores: number }

export function summarizeSide(blocks: readonly Block[]): SideSummary {
  const all = (k: 'ms' | 'cpuMs') => blocks.flatMap((b) => b[k]);
  const cores = blocks.map((b) => sum(b.cpuMs) / Math.max(sum(b.ms), 1e-9));
  return { ms: median(all('ms')), cpuMs: median(all('cpuMs')), cores: median(cores) };
}

/**
 * ours / peer: the median over rounds of the per-round ratio of block medians (wall and CPU), with
 * their ranges and the per-round values in time order (`perRound`).
 */
export interface Ratio {
  wall: number; cpu: number; wallMin: number; wallMax: number; cpuMin: number; cpuMax: number; rounds: number;
  perRound: { wall: number[]; cpu: number[] };
}

export function ratioOfRounds(ours: readonly Block[], peer: readonly Block[]): Ratio {
  if (ours.length !== peer.length || ours.length === 0) throw new Error(`bench:peer ratioOfRounds: ${ours.length} blocks of ours against ${peer.length} of the peer; both sides need one block per round`);
  const wall = ours.map((b, r) => median(b.ms) / median(peer[r].ms));
  const cpu = ours.map((b, r) => median(b.cpuMs) / median(peer[r].cpuMs));
  return {
    wall: median(wall), cpu: median(cpu), wallMin: Math.min(...wall), wallMax: Math.max(...wall),
    cpuMin: Math.min(...cpu), cpuMax: Math.max(...cpu), rounds: wall.length, perRound: { wall, cpu },
  };
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
