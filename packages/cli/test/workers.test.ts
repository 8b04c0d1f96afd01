// `workers` in the config: the same tiny run crop by crop in this thread (inline), on two
// worker threads (@bilevel/pool) and on a worker process through Redis (@bilevel/distributed),
// started by `bilevel train` itself.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, initBackend } from '@bilevel/core';
import { startRedis, type TestRedis } from '@bilevel/testing/node';
import { cli, tmp, write, TINY } from './helpers.js';

let redis: TestRedis | undefined;
beforeAll(async () => {
  await initBackend({ log: false });
});
afterAll(async () => {
  await redis?.stop();
});

const dir = tmp('workers');
/** θ of the tiny config run with `workers` (a YAML flow map, or none), as plain arrays. */
async function thetaOf(name: string, workers?: string): Promise<{ theta: Record<string, number[]>; out: string; summary: { status: string; iterations: number } }> {
  const file = write(dir, `${name}.yaml`, TINY + (workers != null ? `workers: ${workers}\n` : ''));
  const { code, out, err } = await cli(['train', file, '--quiet', '--json']);
  expect(err.split('\n').filter((l) => /error|Error/.test(l))).toEqual([]);
  expect(code).toBe(0);
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'runs', name, 'theta.json'), 'utf8')) as Record<string, { values: number[] }>;
  const theta = Object.fromEntries(Object.entries(saved).map(([k, v]) => [k, v.values]));
  return { theta, out: err, summary: JSON.parse(out) };
}

describe('bilevel train with workers', () => {
  let inline: Record<string, number[]>;

  it('threads give the θ of the crop-by-crop reference bit for bit, close to the whole-batch run; no tensor leaks', async () => {
    const before = tf.memory().numTensors;
    const ref = await thetaOf('inline', '{ kind: inline }');
    expect(tf.memory().numTensors).toBe(before);
    inline = ref.theta;
    const threads = await thetaOf('threads', '{ kind: threads, count: 2 }');
    expect(threads.summary.status).toBe('budget-iterations');
    expect(threads.summary.iterations).toBe(6);
    // The same per-crop code, the same warm starts, a fixed-order sum: identical bits.
    expect(threads.theta).toEqual(inline);
    const batch = await thetaOf('batch');
    // The whole-batch run solves both crops as one problem, to the same tolerance on the joint
    // gradient (MAID's last ε ≈ 2.5e-4): θ agrees to that order, not bit for bit.
    for (const k of Object.keys(batch.theta)) {
      const rel = Math.abs(threads.theta[k][0] - batch.theta[k][0]) / Math.abs(batch.theta[k][0]);
      expect(rel).toBeLessThan(1e-3);
    }
    console.log(`[cli workers] 6 MAID iterations, 2 crops: θ inline ${JSON.stringify(inline)} = threads ×2; whole batch ${JSON.stringify(batch.theta)}`);
  }, 120_000);

  it('redis: bilevel train starts a worker process and gets the same θ bit for bit', async () => {
    redis = await startRedis();
    const got = await thetaOf('redis', `{ kind: redis, url: "${redis.url}", queue: cli-test, processes: 1 }`);
    expect(got.theta).toEqual(inline);
    console.log(`[cli workers] redis, 1 local worker process: θ ${JSON.stringify(got.theta)} (= inline)`);
  }, 180_000);

  it('a run stopped crop by crop in this thread resumes on 2 threads at the θ of the uninterrupted run, bit for bit; another engine is refused', async () => {
    const cutDir = path.join(dir, 'cut');
    const inlineFile = write(dir, 'cut-inline.yaml', `${TINY}workers: { kind: inline }\n`);
    let lines = 0;
    const stop = { get aborted() { return lines >= 3; } };
    const cut = await cli(['train', inlineFile, '--out', cutDir], { signal: stop, onLine: (l) => { if (/^MAID/.test(l)) lines += 1; } });
    expect(cut.code).toBe(130);
    expect(JSON.parse(fs.readFileSync(path.join(cutDir, 'checkpoint.json'), 'utf8')).iterations).toBe(3);
    // The checkpoint holds the crops' warm starts; threads read them as the inline pool wrote them.
    const threadsFile = write(dir, 'cut-threads.yaml', `${TINY}workers: { kind: threads, count: 2 }\n`);
    const resumed = await cli(['train', threadsFile, '--out', cutDir, '--resume', '--quiet']);
    expect(resumed.code).toBe(0);
    const saved = JSON.parse(fs.readFileSync(path.join(cutDir, 'theta.json'), 'utf8')) as Record<string, { values: number[] }>;
    expect(Object.fromEntries(Object.entries(saved).map(([k, v]) => [k, v.values]))).toEqual(inline);
    const batchFile = write(dir, 'cut-batch.yaml', TINY);
    const refused = await cli(['train', batchFile, '--out', cutDir, '--resume']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/'workers' changed from crop by crop in this machine \(inline or threads\) to the whole batch in this process/);
  }, 120_000);

  it('dfo: value jobs in the workers carry the value bound; inline and 2 threads give the same θ bit for bit', async () => {
    const dfo = (name: string, workers: string) => {
      const file = write(dir, `${name}.yaml`, `${TINY.replace('method: { kind: maid }', 'method: { kind: dfo }')}workers: ${workers}\n`);
      return cli(['train', file, '--quiet', '--json']);
    };
    const theta = (name: string) => JSON.parse(fs.readFileSync(path.join(dir, 'runs', name, 'theta.json'), 'utf8')) as Record<string, { values: number[] }>;
    const a = await dfo('dfo-inline', '{ kind: inline }');
    expect(a.code).toBe(0);
    // Dynamic accuracy throws on a NaN value bound: a full run means every value was certified.
    const summary = JSON.parse(a.out) as { status: string; iterations: number };
    expect(summary.status).toBe('budget-iterations');
    expect(summary.iterations).toBe(6);
    const b = await dfo('dfo-threads', '{ kind: threads, count: 2 }');
    expect(b.code).toBe(0);
    expect(theta('dfo-threads')).toEqual(theta('dfo-inline'));
    // and DFO moved θ off its start (log 0.05 = −2.996): it did real steps.
    expect(Math.abs(theta('dfo-inline').logAlpha.values[0] - Math.log(0.05))).toBeGreaterThan(0.1);
  }, 120_000);

  it('config errors name the field, the value and what is allowed (exit 2)', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{ kind: thread }', /workers\.kind: got "thread"; must be one of "inline", "threads", "redis"/],
      ['{ kind: threads, count: 0 }', /workers\.count: got 0; must be ≥ 1/],
      ['{ kind: threads, cnt: 2 }', /workers\.cnt: unknown field \(did you mean 'count'\?\)/],
      ["{ kind: redis, url: 'localhost:6379' }", /workers\.url: got "localhost:6379"; must be a Redis URL/],
    ];
    for (const [workers, message] of cases) {
      const file = write(dir, 'bad.yaml', `${TINY}workers: ${workers}\n`);
      const { code, err } = await cli(['train', file]);
      expect(code).toBe(2);
      expect(err).toMatch(message);
    }
    // The certified bounds come from implicit's error bound in the workers: another strategy is refused.
    const dfo = write(dir, 'dfo.yaml', `${TINY.replace('method: { kind: maid }', 'method: { kind: dfo }').replace('strategy: { kind: implicit }', 'strategy: { kind: unrolled }')}workers: { kind: threads }\n`);
    const r = await cli(['train', dfo]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/workers\.kind: got "threads"; with 'workers', method 'dfo' takes its certified bounds from strategy 'implicit'/);
    // A worker process needs a redis config.
    const w = await cli(['worker', write(dir, 'threads-worker.yaml', `${TINY}workers: { kind: threads }\n`)]);
    expect(w.code).toBe(2);
    expect(w.err).toMatch(/bilevel worker: .*workers\.kind must be "redis" for a worker process \(got "threads"\)/);
  });
});
