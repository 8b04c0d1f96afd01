import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeCheckpoint, type Checkpoint, type CheckpointOptions, type CheckpointStore } from '../checkpoint.js';

/**
 * Writes `content` to `file` atomically: a temporary file in the same directory, fsync,
 * rename over the target, fsync of the directory. A crash leaves the old or the new file,
 * never a torn one.
 *
 * @param file - target path (its folder is created).
 * @param content - text or bytes to write.
 * @example
 * ```ts
 * import { writeFileAtomic } from '@bilevel/outer/node';
 * writeFileAtomic('/tmp/run/ckpt.json', JSON.stringify(checkpoint));
 * ```
 */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof content === 'string') fs.writeSync(fd, content);
    else fs.writeSync(fd, content);
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
 * A {@link CheckpointStore} of files: the key is a path (relative to `dir`), each write is
 * atomic ({@link writeFileAtomic}).
 *
 * @param dir - folder that relative keys resolve against (default: the working directory).
 * @returns the store.
 * @example
 * ```ts
 * import { fileStore } from '@bilevel/outer/node';
 * await train({ ..., checkpoint: { store: fileStore('runs'), key: 'maid.json', every: 10 }, resume: true });
 * ```
 */
export function fileStore(dir = '.'): CheckpointStore {
  const where = (key: string) => path.resolve(dir, key);
  return {
    read: (key) => {
      const file = where(key);
      if (!fs.existsSync(file)) return undefined;
      return fs.readFileSync(file);
    },
    write: (key, bytes) => writeFileAtomic(where(key), bytes),
  };
}

/**
 * Checkpoint options for one file: `{ store: fileStore(), key: path, every }`.
 *
 * @param file - checkpoint path.
 * @param every - iterations between checkpoints (default 1).
 * @returns options for `train`'s `checkpoint`.
 * @example
 * ```ts
 * import { fileCheckpoint } from '@bilevel/outer/node';
 * await train({ ..., checkpoint: fileCheckpoint('runs/maid.json', 10), resume: true });
 * ```
 */
export function fileCheckpoint(file: string, every?: number): CheckpointOptions {
  return { store: fileStore(), key: file, ...(every === undefined ? {} : { every }) };
}

/**
 * Reads a checkpoint file written by `train` with a file store.
 *
 * @param file - checkpoint path.
 * @returns the parsed {@link Checkpoint}.
 * @example
 * ```ts
 * import { readCheckpoint } from '@bilevel/outer/node';
 * const ckpt = readCheckpoint('/tmp/run/ckpt.json');
 * console.log(ckpt.iterations, ckpt.work.innerIterations);
 * ```
 */
export function readCheckpoint<S = unknown>(file: string): Checkpoint<S> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`readCheckpoint: cannot read '${file}' (${(e as Error).message}); check the path.`);
  }
  return decodeCheckpoint<S>(bytes, file);
}
