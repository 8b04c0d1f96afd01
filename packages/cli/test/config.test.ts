import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateConfig, configJsonSchema, parseArgv, parseFlags, UsageError } from '../src/index.js';
import { cli, tmp, write } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Broken configs: [file name, contents, the field the message must name, a word of what is allowed]. */
const BROKEN: Array<[string, string, string, string]> = [
  ['kind.yaml', 'model: { kind: tvv }', 'model.kind', '"foe"'],
  ['negative.json', '{"model": {"kind": "foe", "filters": -3}}', 'model.filters', '≥ 1'],
  ['type.yaml', 'model: { kind: tv }\ndata: { crop: big }', 'data.crop', 'a number'],
  ['integer.yaml', 'model: { kind: tv }\ndata: { count: 2.5 }', 'data.count', 'integer'],
  ['unknown.yaml', 'model: { kind: tv, alfa: 0.1 }', 'model.alfa', "did you mean 'alpha'"],
  ['missing.yaml', 'task: { kind: denoise }', 'model', 'required'],
  ['enum.yaml', 'model: { kind: foe, expert: gaussian }', 'model.expert', '"charbonnier"'],
  ['task.yaml', 'model: { kind: tv }\ntask: { kind: pet }', 'task.kind', '"ct"'],
  ['sample.yaml', 'model: { kind: tv }\ndata: { train: [camera, cameraa] }', 'data.train[1]', 'bundled sample'],
  ['file.yaml', 'model: { kind: tv }\ndata: { test: [missing.png] }', 'data.test[0]', 'no such file'],
  ['budget.yaml', 'model: { kind: tv }\nbudget: {}', 'budget', 'at least one of iterations'],
  ['range.yaml', 'model: { kind: tv }\ntask: { kind: denoise, sigma: 3 }', 'task.sigma', '≤ 1'],
  ['odd.yaml', 'model: { kind: tv, xi: 0.1 }\ntask: { kind: deblur, size: 8 }', 'task.size', 'odd'],
  ['mu.yaml', 'model: { kind: tv }\ntask: { kind: inpaint }\nmethod: { kind: maid }', 'model.xi', 'xi > 0'],
  ['method.yaml', 'model: { kind: tv }\nmethod: { kind: adam, step: 0 }', 'method.step', '> 0'],
  ['top.yaml', 'model: { kind: tv }\noutputs: {}', 'outputs', "did you mean 'output'"],
];

describe('config validation', () => {
  const dir = tmp('config');
  for (const [name, text, field, allowed] of BROKEN) {
    it(`${name}: exit 2, naming ${field} and what is allowed`, async () => {
      const file = write(dir, name, text);
      const { code, out, err } = await cli(['train', file]);
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err).toContain(`${field}:`);
      expect(err).toContain(allowed);
      expect(err).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it('a syntax error names the line; an unknown extension is refused', async () => {
    const bad = write(dir, 'syntax.yaml', 'model: [\n');
    const r = await cli(['train', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not valid YAML.*line 2/);
    const txt = write(dir, 'config.txt', '{}');
    expect((await cli(['train', txt])).err).toContain("a config is a .json, .yaml or .yml file");
  });

  it('fills every default from a minimal config', () => {
    const c = validateConfig({ model: { kind: 'foe' } }, 'inline.json', dir);
    expect(c.task).toEqual({ kind: 'denoise', sigma: 0.1 });
    expect(c.model).toMatchObject({ kind: 'foe', filters: 8, size: 5, expert: 'charbonnier', zeroMean: true });
    expect(c.strategy).toMatchObject({ kind: 'implicit', inner: 'lbfgs', linear: 'cg', warmStart: true });
    expect(c.method).toMatchObject({ kind: 'maid', tol0: 0.1 });
    expect(c.budget).toEqual({ iterations: 20 });
    expect(c.data).toMatchObject({ train: ['camera', 'coins'], test: ['astronaut'], crop: 64 });
    expect(() => validateConfig({ model: { kind: 'tv' }, data: { crop: 4 } }, 'inline.json', dir)).toThrow(UsageError);
  });

  it('the committed JSON Schema (schema/config.schema.json) is the schema of the code', () => {
    const committed = JSON.parse(fs.readFileSync(path.join(here, '..', 'schema', 'config.schema.json'), 'utf8'));
    expect(committed).toEqual(configJsonSchema());
    const schema = configJsonSchema() as { properties: Record<string, { oneOf?: Array<{ properties: { kind: { const: string } } }> }>; required: string[] };
    expect(schema.required).toEqual(['model']);
    expect(schema.properties.model.oneOf!.map((o) => o.properties.kind.const)).toEqual(['tv', 'huber-tv', 'tgv', 'ex', 'foe', 'icnn']);
    expect(schema.properties.task.oneOf!.map((o) => o.properties.kind.const)).toEqual(['denoise', 'deblur', 'inpaint', 'mri', 'ct']);
  });
});

describe('flags', () => {
  const spec = { crop: { type: 'number' as const }, name: { type: 'string' as const }, fast: { type: 'boolean' as const } };
  it('--crop -3 reads -3; --name=-x, --no-fast, positionals and --', () => {
    expect(parseArgv(['run.yaml', '--crop', '-3', '--name=-x', '--no-fast', '--', '--crop'], spec, 't')).toEqual({ values: { crop: -3, name: '-x', fast: false }, positionals: ['run.yaml', '--crop'] });
  });
  it("an example's flags after the '--' that `pnpm start -- --crop 3` forwards", () => {
    expect(parseFlags({ crop: 64, method: 'maid' }, ['--', '--crop', '3'], 't')).toEqual({ crop: 3, method: 'maid' });
    expect(parseFlags({ crop: 64, method: 'maid' }, ['--method', 'hoag'], 't')).toEqual({ crop: 64, method: 'hoag' });
  });
  it('names the flag, the value and what is allowed', () => {
    expect(() => parseArgv(['--crop', 'big'], spec, 't')).toThrow("t: flag --crop must be a number, got 'big'.");
    expect(() => parseArgv(['--crp', '3'], spec, 't')).toThrow("unknown flag --crp (did you mean 'crop'?)");
    expect(() => parseArgv(['--crop'], spec, 't')).toThrow('flag --crop needs a number value');
  });
  it('--help, --version and unknown commands', async () => {
    const help = await cli(['train', '--help']);
    expect(help.code).toBe(0);
    for (const word of ['--resume', 'huber-tv', 'deblur', 'equilibrium', 'dfo', 'training.svg']) expect(help.out).toContain(word);
    const version = await cli(['--version']);
    expect(version.out.trim()).toBe(JSON.parse(fs.readFileSync(path.join(here, '..', 'package.json'), 'utf8')).version);
    const wrong = await cli(['trian']);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain("did you mean 'train'");
    for (const command of ['eval', 'check', 'schema']) expect((await cli([command, '--help'])).code).toBe(0);
  });
});
