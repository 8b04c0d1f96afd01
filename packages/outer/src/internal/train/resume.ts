// Resuming a run: the resume option, the run's fingerprint, and the checks that a checkpoint
// belongs to the run at hand before its state is used.
import { checkOptions, opt, type Params } from '@bilevel/core';
import type { Oracle } from '../../types.js';
import type { TrainOptions } from '../../train.js';
import { describe, dataFingerprint, tensorHash, fingerprintDiff, FINGERPRINT_PARTS, type FingerprintPart, type RunFingerprint } from '../checkpoint/fingerprint.js';
import { WHERE } from './setup.js';

/** The object form of `train`'s `resume` option. */
export interface ResumeOptions {
  /** Key to resume from (default: `checkpoint.key`); it must exist when given. */
  key?: string;
  /**
   * Parts of the run's fingerprint allowed to differ from the checkpoint's (`true`: all):
   * 'method' (method, its options, transform, regularisers, projection), 'strategy' (strategy
   * and its options), 'theta' (θ's keys, shapes, dtypes), 'theta0' (θ₀'s values), 'data'
   * (shapes and content). The checkpoint's state is then continued with this run's settings.
   */
  allowMismatch?: true | FingerprintPart[];
}

const isParts = (v: unknown) => v === true || (Array.isArray(v) && v.every((p) => (FINGERPRINT_PARTS as readonly string[]).includes(p)));
const RESUME_SCHEMA = {
  key: opt.string(),
  allowMismatch: opt.custom(`true or an array of ${FINGERPRINT_PARTS.map((p) => `'${p}'`).join(', ')}`, isParts),
};

/** The resume option as `{ key, required, allow }` (`key` undefined: no resume). */
export function resolveResume(resume: TrainOptions['resume'], checkpointKey: string): { key?: string; required: boolean; allow: ReadonlySet<FingerprintPart> } {
  if (resume == null || resume === false) return { required: false, allow: new Set() };
  if (resume === true) return { key: checkpointKey, required: false, allow: new Set() };
  if (typeof resume === 'string') return { key: resume, required: true, allow: new Set() };
  const given = checkOptions(WHERE, resume, RESUME_SCHEMA, 'resume.') as ResumeOptions;
  const allow = given.allowMismatch === true ? new Set(FINGERPRINT_PARTS) : new Set(given.allowMismatch ?? []);
  return { key: given.key ?? checkpointKey, required: given.key != null, allow };
}

/** The oracle built by `oracleFromStrategy` knows its strategy and data. */
type Fingerprinted = Oracle & { fingerprint?(): { strategy?: unknown; data?: unknown } };

/** The fingerprint of the run `options` describe (see {@link RunFingerprint}). */
export function runFingerprint(options: TrainOptions<never, unknown>, base: Oracle): RunFingerprint {
  const m = options.method as { name: string; options?: unknown };
  const theta0 = options.theta0 as Params;
  const fromOracle = (base as Fingerprinted).fingerprint?.();
  const strategy = options.strategy as { name?: string; options?: unknown } | undefined;
  return {
    method: describe({ name: m.name, options: m.options, transform: options.transform, regularizer: options.regularizer, project: options.project }),
    strategy: strategy != null ? describe({ name: strategy.name, options: strategy.options }) : fromOracle?.strategy,
    theta: Object.fromEntries(Object.keys(theta0).sort().map((k) => [k, `${theta0[k].dtype}[${theta0[k].shape.join(',')}]`])),
    theta0: Object.fromEntries(Object.keys(theta0).sort().map((k) => [k, tensorHash(theta0[k])])),
    data: options.data != null ? dataFingerprint(options.data) : fromOracle?.data,
  };
}

/** Throws when `saved` and `current` differ in a part not in `allow`, naming every difference. */
export function checkFingerprint(key: string, saved: RunFingerprint, current: RunFingerprint, allow: ReadonlySet<FingerprintPart>): void {
  const diffs = fingerprintDiff(saved, current).filter((d) => !allow.has(d.part));
  if (diffs.length === 0) return;
  const parts = [...new Set(diffs.map((d) => d.part))];
  const listed = diffs.slice(0, 6).map((d) => `${d.path}: checkpoint ${d.saved}, this run ${d.current}`);
  if (diffs.length > 6) listed.push(`and ${diffs.length - 6} more`);
  throw new Error(
    `${WHERE}: checkpoint '${key}' was written by a different run (${parts.join(', ')} differ): ${listed.join('; ')}. ` +
      `Resume with the settings that wrote it, start afresh (resume: false, or another checkpoint.key), or, to continue this checkpoint with the new settings, pass resume: { allowMismatch: [${parts.map((p) => `'${p}'`).join(', ')}] }.`,
  );
}
