import { describe, it, expect, beforeAll, vi } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, initBackend } from '@bilevel/core';
import { maid, train, memoryStore, loadCheckpoint } from '../src/index.js';
import { fileCheckpoint, fileStore, readCheckpoint } from '../src/node.js';
import { makeQuadratic, quadraticOracle } from './quadratic.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

const spec = { rows: 20, m: 5, p: 5, samples: 1, ridge: 0.1, seed: 7 };

/** A MAID run on the quadratic oracle with a file checkpoint; counts the oracle calls. */
async function run(file: string, iterations: number, resume = false) {
  const q = makeQuadratic(spec);
  const base = quadraticOracle(q);
  let calls = 0;
  const oracle = Object.assign((...a: Parameters<typeof base>) => ((calls += 1), base(...a)), { saveState: base.saveState, loadState: base.loadState });
  const theta0 = { theta: tf.zeros([spec.p]) };
  try {
    const r = await train({ method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { iterations }, checkpoint: fileCheckpoint(file), resume });
    tf.dispose(r.theta.theta);
    return { ...r, calls };
  } finally {
    theta0.theta.dispose();
    base.dispose();
  }
}

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-files-'));
}

describe('broken checkpoint files: errors name the file and the field', () => {
  const cases: Array<[string, (file: string) => void, RegExp]> = [
    ['empty', (f) => fs.writeFileSync(f, ''), /checkpoint '.*ckpt\.json' is empty \(0 bytes\)/],
    ['truncated', (f) => fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 40)), /checkpoint '.*ckpt\.json' is not JSON \(.*; 40 bytes\): it is truncated or not a checkpoint/],
    ['garbage', (f) => fs.writeFileSync(f, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])), /checkpoint '.*ckpt\.json' is not JSON/],
    ['another JSON file', (f) => fs.writeFileSync(f, '{"name":"package"}'), /checkpoint '.*ckpt\.json' is not a valid bilevel-outer checkpoint: field 'format': expected "bilevel-outer-checkpoint", got nothing \(the field is missing\)/],
    ['a missing field', (f) => edit(f, (j) => delete j.work), /'.*ckpt\.json' is not a valid bilevel-outer checkpoint: field 'work': expected a record, got nothing/],
    ['a field of the wrong type', (f) => edit(f, (j) => ((j.work as Record<string, unknown>).innerIterations = 'many')), /field 'work\.innerIterations': expected a number, got the string "many"/],
    ['a bad θ in the method state', (f) => edit(f, (j) => ((j.state as { theta: { theta: { shape: unknown } } }).theta.theta.shape = [-1])), /field 'state\.theta\.theta\.shape\[0\]': expected at least 0, got -1/],
    ['an old format version', (f) => edit(f, (j) => (j.version = 1)), /checkpoint '.*ckpt\.json' has format version 1 .* cannot be resumed exactly: start afresh/],
    ['a truncated history', (f) => fs.writeFileSync(`${f}.history.jsonl`, fs.readFileSync(`${f}.history.jsonl`, 'utf8').split('\n').slice(0, 3).join('\n')), /checkpoint history '.*ckpt\.json\.history\.jsonl' holds 1 complete events, but its checkpoint records 4/],
    ['a garbage history line', (f) => fs.writeFileSync(`${f}.history.jsonl`, fs.readFileSync(`${f}.history.jsonl`, 'utf8').replace(/\n\{"iteration":1[^\n]*/, '\n{"iteration":1,"loss":"x"}')), /checkpoint history '.*ckpt\.json\.history\.jsonl' line 3 is not a valid progress event: field 'loss': expected a number, got the string "x"/],
    ['a corrupt warm start', (f) => edit(f, (j) => ((j.oracleState as { xs: unknown }).xs = 'zz')), /train: checkpoint '.*ckpt\.json': /],
  ];
  function edit(file: string, change: (j: Record<string, unknown>) => void) {
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    change(j);
    fs.writeFileSync(file, JSON.stringify(j));
  }
  for (const [name, breakIt, message] of cases) {
    it(`${name}: resume names it (and no iteration runs); without a good .prev it is an error`, async () => {
      const dir = tempDir();
      const file = path.join(dir, 'ckpt.json');
      await run(file, 4);
      fs.rmSync(`${file}.prev`);
      breakIt(file);
      const before = tf.memory().numTensors;
      const err = await run(file, 8, true).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(message);
      console.log(`[broken] ${name}: ${(err as Error).message.replace(dir, '<dir>').replace(dir, '<dir>')}`);
      expect(tf.memory().numTensors).toBe(before);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  it('a corrupt latest checkpoint falls back to the previous good one with a warning, and the run still ends where the uninterrupted one does', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ckpt.json');
    const full = await run(path.join(dir, 'full.json'), 8);
    await run(file, 4);
    fs.writeFileSync(file, '{"format":"bilevel-outer-check');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const resumed = await run(file, 8, true);
    const warned = warn.mock.calls.map((c) => String(c[0])).find((m) => m.includes('previous good'));
    warn.mockRestore();
    console.log(`[broken] fallback: ${warned?.replace(dir, '<dir>').replace(dir, '<dir>')}`);
    expect(warned).toMatch(/checkpoint '.*ckpt\.json' is not JSON .* Resuming from the previous good checkpoint '.*ckpt\.json\.prev' \(iteration 4\)/);
    expect(resumed.state.theta).toEqual(full.state.theta);
    expect(resumed.history.map((e) => e.loss)).toEqual(full.history.map((e) => e.loss));
    // it continued from iteration 4 instead of starting over
    expect(resumed.calls).toBeLessThan(full.calls);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('readCheckpoint and loadCheckpoint validate the same way', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ckpt.json');
    await expect(readCheckpoint(file)).rejects.toThrow(/readCheckpoint: '.*ckpt\.json' does not exist/);
    await run(file, 3);
    const ckpt = await readCheckpoint(file);
    expect(ckpt.history.length).toBe(3);
    expect(ckpt.fingerprint.theta).toEqual({ theta: 'float32[5]' });
    const store = memoryStore();
    store.write('k', new TextEncoder().encode('[]'));
    await expect(loadCheckpoint(store, 'k')).rejects.toThrow(/loadCheckpoint: checkpoint 'k' is not a valid bilevel-outer checkpoint: field '\(top level\)': expected a object, got an array/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('checkpoint paths are checked before the first iteration', () => {
  it('a path under a file fails before any oracle call, naming the file', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    const err = (await run(path.join(dir, 'notes.txt', 'ckpt.json'), 3).catch((e: Error) => e)) as Error;
    console.log(`[paths] under a file: ${err.message.replace(dir, '<dir>').replace(dir, '<dir>')}`);
    expect(err.message).toMatch(/train: cannot write checkpoint '.*notes\.txt\/ckpt\.json': '.*notes\.txt' is a file, not a folder/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a read-only location fails before any oracle call, naming the folder', async () => {
    // root ignores permission bits, so as root a read-only file system (/proc) stands in for a read-only folder
    const dir = tempDir();
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro);
    fs.chmodSync(ro, 0o555);
    const root = process.getuid?.() === 0;
    const target = root ? '/proc/bilevel-ckpt.json' : path.join(ro, 'ckpt.json');
    const err = (await run(target, 3).catch((e: Error) => e)) as Error;
    console.log(`[paths] read-only: ${err.message.replace(dir, '<dir>')}`);
    expect(err.message).toMatch(/train: cannot write checkpoint '.*ckpt\.json': the folder '.*' is not writable \((EACCES|ENOENT|EROFS|EPERM)\)/);
    fs.chmodSync(ro, 0o755);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a folder as the checkpoint path is refused', async () => {
    const dir = tempDir();
    const err = (await run(dir, 3).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/train: cannot write checkpoint '.*': it is a folder; give a file path/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('temporary files of killed writes (dead processes) are removed at the start; a live writer’s are kept', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ckpt.json');
    const dead = [`.ckpt.json.999999.tmp`, `.ckpt.json.prev.999998.tmp`, `.ckpt.json.history.jsonl.999997.tmp`];
    for (const name of dead) fs.writeFileSync(path.join(dir, name), Buffer.alloc(4096));
    const live = `.ckpt.json.${process.ppid}.tmp`;
    fs.writeFileSync(path.join(dir, live), 'x');
    fs.writeFileSync(path.join(dir, '.other.json.999999.tmp'), 'not ours');
    await run(file, 2);
    const left = fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).sort();
    expect(left).toEqual(['.other.json.999999.tmp', live].sort());
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('the history is appended, not rewritten', () => {
  it('each save appends one line and rewrites only the small state', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ckpt.json');
    const writes: Array<{ name: string; bytes: number }> = [];
    const files = fileStore();
    const store = {
      read: files.read,
      prepare: files.prepare,
      write: (k: string, b: Uint8Array) => (writes.push({ name: k, bytes: b.length }), files.write(k, b)),
      append: (k: string, b: Uint8Array) => (writes.push({ name: k, bytes: b.length }), files.append!(k, b)),
    };
    const q = makeQuadratic(spec);
    const oracle = quadraticOracle(q);
    const theta0 = { theta: tf.zeros([spec.p]) };
    const r = await train({ method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { iterations: 30 }, checkpoint: { store, key: file } });
    tf.dispose([r.theta.theta, theta0.theta]);
    oracle.dispose();
    const history = writes.filter((w) => w.name.endsWith('history.jsonl'));
    const state = writes.filter((w) => !w.name.includes('history'));
    const lines = fs.readFileSync(`${file}.history.jsonl`, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBe(31); // header + one line per iteration
    // one append per save after the first, each about one event long
    expect(Math.max(...history.slice(1).map((w) => w.bytes))).toBeLessThan(400);
    console.log(`[history] 30 iterations: history ${fs.statSync(`${file}.history.jsonl`).size} B, ${history.length} history writes of ≤ ${Math.max(...history.slice(1).map((w) => w.bytes))} B; ${state.length} state writes of ${Math.max(...state.map((w) => w.bytes))} B max`);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
