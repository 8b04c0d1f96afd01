import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, initBackend } from '@bilevel/core';
import { decodePng } from '@bilevel/imaging';
import { cli, tmp, write, TINY } from './helpers.js';

beforeAll(async () => {
  await initBackend({ log: false });
});

const read = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

describe('bilevel train', () => {
  it('a tiny config writes every listed output, and leaks no tensor', async () => {
    const dir = tmp('train');
    const file = write(dir, 'tiny.yaml', TINY);
    const before = tf.memory().numTensors;
    const { code, out, err } = await cli(['train', file, '--every', '2']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const run = path.join(dir, 'runs', 'tiny');
    const expected = ['checkpoint.json', 'checkpoint.json.history.jsonl', 'checkpoint.json.prev', 'config.json', 'mosaic.png', 'summary.json', 'theta.json', 'training.svg', 'training.vl.json', ...[0, 1].flatMap((i) => ['clean', 'degraded', 'reconstructed'].map((t) => `test${i}-${t}.png`))];
    expect(fs.readdirSync(run).sort()).toEqual(expected.sort());
    for (const png of expected.filter((f) => /^test.*\.png$/.test(f))) {
      const image = decodePng(fs.readFileSync(path.join(run, png)));
      expect([image.width, image.height]).toEqual([16, 16]);
    }
    const mosaic = decodePng(fs.readFileSync(path.join(run, 'mosaic.png')));
    expect([mosaic.width, mosaic.height]).toEqual([3 * 16, 2 * 16]);
    const svg = fs.readFileSync(path.join(run, 'training.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('computational work');
    expect(svg).toContain('training PSNR');
    const summary = read(path.join(run, 'summary.json'));
    expect(summary.status).toBe('budget-iterations');
    expect(summary.iterations).toBe(6);
    expect(summary.history).toHaveLength(6);
    expect(Object.keys(summary.theta).sort()).toEqual(['logAlpha', 'logNu']);
    // Learning helps on held-out crops: the learned θ beats θ₀ and the noisy input.
    expect(summary.heldOut.learned.psnr).toBeGreaterThan(summary.heldOut.initial.psnr);
    expect(summary.heldOut.initial.psnr).toBeGreaterThan(summary.heldOut.degraded.psnr);
    // Progress: plain lines every 2 iterations (and the last) when stdout is not a terminal.
    expect(out.match(/^MAID\s+\d+\/6/gm)).toEqual(['MAID    1/6', 'MAID    3/6', 'MAID    5/6', 'MAID    6/6']);
    expect(out).toContain('wrote ');
    // A second run without --resume or --fresh refuses to overwrite.
    const again = await cli(['train', file]);
    expect(again.code).toBe(2);
    expect(again.err).toContain('pass --resume to continue it or --fresh to start over');
  });

  it('--resume after an interrupted run ends at the same θ as an uninterrupted run', async () => {
    const dir = tmp('resume');
    const file = write(dir, 'tiny.yaml', TINY);
    const full = await cli(['train', file, '--out', path.join(dir, 'full'), '--quiet']);
    expect(full.code).toBe(0);
    // Interrupted: the signal (what Ctrl-C sets) is raised once the 3rd progress line is out.
    let lines = 0;
    const stop = { get aborted() { return lines >= 3; } };
    const cut = await cli(['train', file, '--out', path.join(dir, 'cut')], { signal: stop, onLine: (l) => { if (/^MAID/.test(l)) lines += 1; } });
    expect(cut.code).toBe(130);
    expect(cut.err).toContain('--resume');
    const checkpoint = read(path.join(dir, 'cut', 'checkpoint.json'));
    expect(checkpoint.iterations).toBe(3);
    expect(read(path.join(dir, 'cut', 'summary.json')).status).toBe('aborted');
    const resumed = await cli(['train', file, '--out', path.join(dir, 'cut'), '--resume', '--quiet']);
    expect(resumed.code).toBe(0);
    const a = read(path.join(dir, 'full', 'summary.json'));
    const b = read(path.join(dir, 'cut', 'summary.json'));
    expect(b.iterations).toBe(6);
    // Bitwise: every piece of state (θ, MAID's ε and step, the oracle's and the implicit
    // strategy's warm starts x and q) is in the checkpoint.
    expect(read(path.join(dir, 'cut', 'theta.json'))).toEqual(read(path.join(dir, 'full', 'theta.json')));
    expect(b.history.map((h: { loss: number }) => h.loss)).toEqual(a.history.map((h: { loss: number }) => h.loss));
    expect(b.work).toBe(a.work);
    // A changed model cannot resume that run.
    const changed = write(dir, 'changed.yaml', TINY.replace('model: { kind: tv }', 'model: { kind: tv, alpha: 0.1 }'));
    const refused = await cli(['train', changed, '--out', path.join(dir, 'cut'), '--resume']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain("'model' changed");
  });

  it('a filter model writes its learned filters; eval applies the learned model to new images', async () => {
    const dir = tmp('foe');
    const file = write(dir, 'foe.yaml', TINY.replace('model: { kind: tv }', 'model: { kind: foe, filters: 3, size: 3 }').replace('iterations: 6', 'iterations: 2').replace('images: 2', 'images: 1'));
    const r = await cli(['train', file, '--quiet']);
    expect(r.code).toBe(0);
    const run = path.join(dir, 'runs', 'foe');
    const filters = decodePng(fs.readFileSync(path.join(run, 'filters.png')));
    expect([filters.width, filters.height]).toEqual([8 * 3 * 5, 8 * 5]);
    const before = tf.memory().numTensors;
    const e = await cli(['eval', run, path.join(run, 'test0-clean.png'), '--degrade', '--json']);
    expect(e.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const result = JSON.parse(e.out);
    expect(result.results[0].reconstructed.psnr).toBeGreaterThan(result.results[0].degraded.psnr);
    expect(fs.existsSync(path.join(run, 'eval', 'test0-clean-reconstructed.png'))).toBe(true);
    const noRef = await cli(['eval', run, path.join(run, 'test0-clean.png'), '--references', 'a.png,b.png']);
    expect(noRef.code).toBe(2);
    expect(noRef.err).toContain('one per image');
  });
});

describe('every task, model, strategy and method builds and runs', () => {
  // One iteration each on 16×16 crops: the builders and the schema agree (a run, not a figure).
  const CASES: Array<[string, string]> = [
    ['deblur + huber-tv + hoag', 'task: { kind: deblur, size: 5 }\nmodel: { kind: huber-tv }\nmethod: { kind: hoag }'],
    ['inpaint + ex + adam', 'task: { kind: inpaint }\nmodel: { kind: ex, filters: 3, size: 3 }\nmethod: { kind: adam }'],
    ['mri + tv + maid (ξ > 0)', 'task: { kind: mri, acceleration: 2 }\nmodel: { kind: tv, xi: 0.01 }\nmethod: { kind: maid }'],
    ['ct + tv + adam', 'task: { kind: ct, angles: 12 }\nmodel: { kind: tv, xi: 0.01 }\nmethod: { kind: adam }'],
    ['denoise + tgv + adam', 'model: { kind: tgv, nu: 0.05 }\nmethod: { kind: adam }'],
    ['denoise + icnn + sgd', 'model: { kind: icnn, layers: 1, channels: 2, size: 3 }\nmethod: { kind: sgd, step: 0.01 }'],
    ['unrolled + dfo', 'model: { kind: tv }\nstrategy: { kind: unrolled, steps: 20 }\nmethod: { kind: dfo }'],
    ['equilibrium + adam', 'model: { kind: tv }\nstrategy: { kind: equilibrium }\nmethod: { kind: adam }'],
    ['jfb + adam', 'model: { kind: tv }\nstrategy: { kind: jfb }\nmethod: { kind: adam }'],
  ];
  for (const [name, text] of CASES) {
    it(name, async () => {
      const dir = tmp('matrix');
      const file = write(dir, 'c.yaml', `${text}\ndata: { crop: 16, count: 2, testCount: 1 }\nbudget: { iterations: 1 }\noutput: { images: 1 }\n`);
      const r = await cli(['train', file, '--json']);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.out);
      expect(summary.iterations).toBe(1);
      expect(Number.isFinite(summary.heldOut.learned.psnr)).toBe(true);
    });
  }
});
