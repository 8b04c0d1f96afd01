/**
 * Training checkpoints: the JSON a checkpoint holds, its atomic write and its read.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Work } from '@bilevel/core';
import type { ProgressEvent } from './train.js';

/** The JSON a checkpoint holds. */
export interface Checkpoint<S = unknown> {
  format: 'bilevel-outer-checkpoint';
  version: 1;
  method: string;
  iterations: number;
  state: S;
  work: Work;
  history: ProgressEvent[];
  oracleState?: unknown;
  elapsedMs: number;
}

/**
 * Writes `content` to `file` atomically: a temporary file in the same directory, fsync,
 * rename over the target, fsync of the directory. A crash leaves the old or the new file,
 * never a torn one.
 *
 * @param file - target path.
 * @param content - text to write.
 * @example
 * ```ts
 * writeFileAtomic('/tmp/run/ckpt.json', JSON.stringify(checkpoint));
 * ```
 */
export function writeFileAtomic(file: string, content: string): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Directory fsync is not supported everywhere (e.g. Windows); the rename is still atomic.
  }
}

/**
 * Reads a checkpoint written by {@link train}.
 *
 * @param file - checkpoint path.
 * @returns the parsed {@link Checkpoint}.
 * @example
 * ```ts
 * const ckpt = readCheckpoint('/tmp/run/ckpt.json');
 * console.log(ckpt.iterations, ckpt.work.innerIterations);
 * ```
 */
export function readCheckpoint<S = unknown>(file: string): Checkpoint<S> {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Checkpoint<S>;
  if (parsed == null || parsed.format !== 'bilevel-outer-checkpoint' || parsed.version !== 1) {
    throw new Error(`readCheckpoint: '${file}' is not a bilevel-outer checkpoint (version 1).`);
  }
  return parsed;
}
