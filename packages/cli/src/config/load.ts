/**
 * Reading a config file: JSON or YAML by extension, validated against {@link configSchema},
 * then the checks that need the file system or several fields at once. Every problem is a
 * {@link UsageError} naming the field's path, the value and what is allowed.
 *
 * @packageDocumentation
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { SAMPLE_IMAGE_NAMES } from '@bilevel/imaging';
import { UsageError } from '../errors.js';
import { configSchema, type TrainConfig } from './schema.js';
import { describeIssues } from './errors.js';

/** A config read from a file. */
export interface LoadedConfig {
  /** The validated config, defaults filled in. */
  config: TrainConfig;
  /** Absolute path of the file. */
  file: string;
  /** Its folder: relative paths in the config start there. */
  dir: string;
}

/**
 * Parses JSON or YAML text (YAML is a superset of JSON, but JSON files get JSON's messages).
 *
 * @param text - the file's contents.
 * @param file - its name, for messages and to pick the parser (`.json`, `.yaml`, `.yml`).
 * @returns the parsed value.
 * @throws {@link UsageError} with the line and column of a syntax error.
 * @example
 * ```ts
 * parseConfigText('model: { kind: tv }', 'run.yaml');   // { model: { kind: 'tv' } }
 * ```
 */
export function parseConfigText(text: string, file: string): unknown {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new UsageError(`${file}: not valid JSON: ${(e as Error).message}.`);
    }
  }
  if (ext === '.yaml' || ext === '.yml') {
    try {
      return parseYaml(text) as unknown;
    } catch (e) {
      if (e instanceof YAMLParseError) throw new UsageError(`${file}: not valid YAML: ${e.message.split('\n')[0]}`);
      throw e;
    }
  }
  throw new UsageError(`${file}: a config is a .json, .yaml or .yml file, got '${ext || 'no extension'}'.`);
}

/** Resolves a path of the config (relative to its folder). */
export const configPath = (dir: string, p: string): string => (isAbsolute(p) ? p : resolve(dir, p));

/** The PNG files an `images` field names (samples stay names). */
export function imageList(images: TrainConfig['data']['train'], dir: string): string[] {
  if (Array.isArray(images)) return images;
  const folder = configPath(dir, images.folder);
  return readdirSync(folder).filter((f) => /\.png$/i.test(f)).sort().map((f) => join(folder, f));
}

/** File-system and cross-field checks, one message per problem. */
function checkConfig(config: TrainConfig, dir: string): string[] {
  const problems: string[] = [];
  for (const key of ['train', 'test'] as const) {
    const images = config.data[key];
    if (Array.isArray(images)) {
      images.forEach((ref, i) => {
        if ((SAMPLE_IMAGE_NAMES as readonly string[]).includes(ref)) return;
        if (!existsSync(configPath(dir, ref))) problems.push(`data.${key}[${i}]: got ${JSON.stringify(ref)}; no such file (paths are relative to the config file's folder, ${dir})`);
      });
    } else {
      const folder = configPath(dir, images.folder);
      if (!existsSync(folder) || !statSync(folder).isDirectory()) problems.push(`data.${key}.folder: got ${JSON.stringify(images.folder)}; no such folder (relative to ${dir})`);
      else if (imageList(images, dir).length === 0) problems.push(`data.${key}.folder: got ${JSON.stringify(images.folder)}; the folder holds no .png file`);
    }
  }
  const { task, model, method } = config;
  if (task.kind === 'mri' && task.maskFile != null && !existsSync(configPath(dir, task.maskFile))) {
    problems.push(`task.maskFile: got ${JSON.stringify(task.maskFile)}; no such file (relative to ${dir})`);
  }
  // MAID and DFO certify their accuracies with the energy's strong convexity μ: the data term
  // gives μ = 1 only for denoising, the ICNN model always has ξ > 0.
  const mu = task.kind === 'denoise' || model.xi > 0;
  if ((method.kind === 'maid' || method.kind === 'dfo') && !mu) {
    problems.push(`model.xi: got ${model.xi}; method '${method.kind}' certifies its accuracy with the energy's strong convexity μ, which ${model.kind === 'tgv' ? "TGV² (not uniformly convex in w)" : `task '${task.kind}'`} does not give: set model.xi > 0 (e.g. 0.001), or use method 'adam', 'sgd' or 'hoag'`);
  }
  if ((method.kind === 'maid' || method.kind === 'dfo') && model.kind === 'foe' && model.expert === 'student-t' && task.kind === 'denoise' && model.xi === 0) {
    problems.push(`model.expert: got "student-t"; Student-t experts are non-convex, so method '${method.kind}' has no certified μ: use expert 'charbonnier', set model.xi > 0, or use method 'adam'`);
  }
  // With 'workers' the certified bounds are computed in the workers by the task's strategy: MAID's
  // hypergradient bound and DFO's value bound both come from implicit's error bound.
  if (config.workers != null && (method.kind === 'maid' || method.kind === 'dfo') && config.strategy.kind !== 'implicit') {
    problems.push(`workers.kind: got "${config.workers.kind}"; with 'workers', method '${method.kind}' takes its certified bounds from strategy 'implicit' (its error bound runs in the workers), not '${config.strategy.kind}': use strategy 'implicit', drop 'workers', or use method 'adam', 'sgd' or 'hoag'`);
  }
  return problems;
}

/**
 * Validates a parsed config.
 *
 * @param raw - the parsed file.
 * @param file - its path, for messages.
 * @param dir - the folder relative paths start from (default: the file's).
 * @returns the config with defaults.
 * @throws {@link UsageError} listing every problem, one per line.
 * @example
 * ```ts
 * const config = validateConfig({ model: { kind: 'tv' } }, 'inline.json', process.cwd());
 * ```
 */
export function validateConfig(raw: unknown, file: string, dir = dirname(resolve(file))): TrainConfig {
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  const lines = parsed.success ? checkConfig(parsed.data, dir) : describeIssues(parsed.error, configSchema, raw);
  if (lines.length > 0) {
    throw new UsageError(`${file}: ${lines.length === 1 ? 'invalid config' : `${lines.length} problems`}:\n  ${lines.join('\n  ')}\n(the fields and what they allow: bilevel train --help, or the JSON Schema from bilevel schema)`);
  }
  return parsed.data!;
}

/**
 * Reads and validates a config file.
 *
 * @param path - a `.json`, `.yaml` or `.yml` file.
 * @returns `{ config, file, dir }`.
 * @throws {@link UsageError} when the file is missing, does not parse, or does not validate.
 * @example
 * ```ts
 * const { config, dir } = loadConfig('examples/cli/tv-denoise.yaml');
 * ```
 */
export function loadConfig(path: string): LoadedConfig {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`bilevel train: no config file ${path}.`);
  const raw = parseConfigText(readFileSync(file, 'utf8'), path);
  return { config: validateConfig(raw, path, dirname(file)), file, dir: dirname(file) };
}

/** The default output folder of a config: `runs/<file name without extension>` next to it. */
export function defaultOutputDir(file: string): string {
  return join(dirname(file), 'runs', basename(file, extname(file)));
}

/**
 * The config with every path made absolute (image paths, folders, the mask file, the output
 * folder), as `bilevel train` stores it in the run's config.json for `eval` and `--resume`.
 *
 * @param config - a validated config.
 * @param dir - the folder its relative paths start from.
 * @returns a copy with absolute paths.
 */
export function absoluteConfig(config: TrainConfig, dir: string): TrainConfig {
  const images = (v: TrainConfig['data']['train']) =>
    Array.isArray(v) ? v.map((ref) => ((SAMPLE_IMAGE_NAMES as readonly string[]).includes(ref) ? ref : configPath(dir, ref))) : { folder: configPath(dir, v.folder) };
  const task = config.task.kind === 'mri' && config.task.maskFile != null ? { ...config.task, maskFile: configPath(dir, config.task.maskFile) } : config.task;
  return {
    ...config,
    task,
    data: { ...config.data, train: images(config.data.train), test: images(config.data.test) },
    output: { ...config.output, ...(config.output.dir != null ? { dir: configPath(dir, config.output.dir) } : {}) },
  };
}
