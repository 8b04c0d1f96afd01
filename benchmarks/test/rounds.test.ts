// The pure part of bench:peer's interleaved timing (benchmarks/src/peer/rounds.ts): no tfjs, no Python.
import { describe, expect, it } from 'vitest';
import { alternate, median, ratioOfRounds, schedule, summarizeSide, type Block } from '../src/peer/rounds.js';

const blk = (ms: number[], cores = 1): Block => ({ ms, cpuMs: ms.map((m) => m * cores) });

describe('schedule', () => {
  it('runs every side once per round, ours first in even rounds and last in odd ones', () => {
    const s = schedule(5, ['ours', 'torch', 'jax']);
    expect(s).toHaveLength(5);
    for (const order of s) expect([...order].sort()).toEqual(['jax', 'ours', 'torch']);
    expect(s.map((o) => o.indexOf('ours'))).toEqual([0, 2, 0, 2, 0]);
    expect(s[1]).toEqual(['jax', 'torch', 'ours']);
  });

  it('balances who goes first between each pair of sides over an even number of rounds', () => {
    const s = schedule(6, ['a', 'b', 'c']);
    for (const [x, y] of [['a', 'b'], ['a', 'c'], ['b', 'c']]) {
      const first = s.filter((o) => o.indexOf(x) < o.indexOf(y)).length;
      expect(first).toBe(3);
    }
  });

  it('refuses a round count that is not a positive integer, naming the knob', () => {
    expect(() => schedule(0, ['a'])).toThrow(/BENCH_ROUNDS/);
    expect(() => schedule(2.5, ['a'])).toThrow(/rounds must be a positive integer/);
  });
});

describe('alternate', () => {
  it('runs one block per side per round in the order of schedule, sync and async sides alike', async () => {
    const log: string[] = [];
    const side = (name: string, async: boolean) => ({
      block: (reps: number) => {
        log.push(name);
        const b = blk(Array.from({ length: reps }, () => log.length));
        return async ? Promise.resolve(b) : b;
      },
    });
    const blocks = await alternate([side('inline', false), side('one', true), side('two', true)], 4, 2);
    expect(log).toEqual(['inline', 'one', 'two', 'two', 'one', 'inline', 'inline', 'one', 'two', 'two', 'one', 'inline']);
    expect(blocks.map((b) => b.length)).toEqual([4, 4, 4]);
    // side 'two' ran 3rd and 4th: its blocks are the ones it returned, in round order
    expect(blocks[2].map((b) => b.ms)).toEqual([[3, 3], [4, 4], [9, 9], [10, 10]]);
    await expect(alternate([side('a', false)], 0, 1)).rejects.toThrow(/BENCH_ROUNDS/);
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones, without reordering its input', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/no values/);
  });
});

describe('ratioOfRounds', () => {
  it('cancels drift that moves both sides of a round together', () => {
    // the host slows down 1×, 3×, 2× between rounds; ours is 0.8× the peer in every round
    const drift = [1, 3, 2];
    const peer = drift.map((d) => blk([10 * d, 11 * d, 9 * d]));
    const ours = drift.map((d) => blk([8 * d, 8.8 * d, 7.2 * d]));
    const r = ratioOfRounds(ours, peer);
    expect(r.wall).toBeCloseTo(0.8, 12);
    expect(r.cpu).toBeCloseTo(0.8, 12);
    expect(r.wallMin).toBeCloseTo(0.8, 12);
    expect(r.wallMax).toBeCloseTo(0.8, 12);
    expect(r.rounds).toBe(3);
    // timed one after the other (ours in the first minutes, the peer in the slow ones) it read 0.27
    expect(median(ours[0].ms) / median(peer[1].ms)).toBeCloseTo(0.8 / 3, 12);
  });

  it('is the median of the per-round ratios, so one disturbed round does not move it', () => {
    const peer = [blk([10]), blk([10]), blk([10]), blk([10]), blk([10])];
    const ours = [blk([9]), blk([11]), blk([10]), blk([40]), blk([10.5])];
    const r = ratioOfRounds(ours, peer);
    expect(r.wall).toBeCloseTo(1.05, 12);
    expect(r.wallMin).toBeCloseTo(0.9, 12);
    expect(r.wallMax).toBeCloseTo(4, 12);
    // the per-round values in time order, CPU as wall here (cores 1), with their range
    expect(r.perRound.wall.map((x) => Number(x.toFixed(12)))).toEqual([0.9, 1.1, 1, 4, 1.05]);
    expect([r.cpuMin, r.cpuMax].map((x) => Number(x.toFixed(12)))).toEqual([0.9, 4]);
  });

  it('takes the CPU ratio from CPU time, so time preempted on one side drops out', () => {
    // ours preempted half the time (cores 0.5): wall doubled, CPU time unchanged
    const r = ratioOfRounds([blk([20], 0.5), blk([20], 0.5)], [blk([10]), blk([10])]);
    expect(r.wall).toBeCloseTo(2, 12);
    expect(r.cpu).toBeCloseTo(1, 12);
  });

  it('refuses sides with different round counts', () => {
    expect(() => ratioOfRounds([blk([1])], [blk([1]), blk([1])])).toThrow(/one block per round/);
  });
});

describe('summarizeSide', () => {
  it('pools every call for the medians and reports cores = CPU / wall per block', () => {
    const s = summarizeSide([blk([1, 2, 3], 0.5), blk([4, 5, 6], 1), blk([7, 8, 9], 1)]);
    expect(s.ms).toBe(5);
    expect(s.cpuMs).toBe(5);
    expect(s.cores).toBe(1);
  });
});
