import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Checkpoint, CheckpointOptions, CheckpointStore } from '../checkpoint.js';
import { readRun } from '../internal/checkpoint/run-store.js';

/** Temporary files of {@link writeFileAtomic}: `.<name>.<pid>.tmp` next to the target. */
const tempName = (file: string, pid: number) => `.${path.basename(file)}.${pid}.tmp`;

/**
 * Writes `content` to `file` atomically: a temporary file in the same directory, fsync,
 * rename over the target, fsync of the directory. A crash leaves the old or the new file,
 * never a torn one (and at most a temporary file, which {@link fileStore}'s `prepare` removes).
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
  const tmp = path.join(dir, tempName(file, process.pid));
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof content === 'string') fs.writeSync(fd, content);
    else fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDir(dir);
}

function syncDir(dir: string): void {
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

/** Appends `bytes` to `file` and fsyncs it (a crash may leave a torn last line, which readers ignore). */
function appendDurable(file: string, bytes: Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Checks before the first iteration that checkpoints can be written at `file` (its folder can
 * be created and written, the path is not a folder), then removes temporary files that killed
 * writers (dead processes) left for `file`, its `.prev` and its `.history.jsonl`.
 */
function prepareFile(where: string, file: string): { removed: number } {
  const dir = path.dirname(file);
  // the first existing ancestor, to say which part of the path is wrong
  let existing = dir;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  if (!fs.statSync(existing).isDirectory()) {
    throw new Error(`${where}: cannot write checkpoint '${file}': '${existing}' is a file, not a folder; choose a checkpoint path inside a folder (checkpoint.key / fileCheckpoint(path)).`);
  }
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(`${where}: cannot create the checkpoint folder '${dir}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable checkpoint path.`, { cause: e });
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    throw new Error(`${where}: cannot write checkpoint '${file}': it is a folder; give a file path (e.g. '${path.join(file, 'checkpoint.json')}').`);
  }
  const probe = path.join(dir, tempName(file, process.pid));
  try {
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
  } catch (e) {
    throw new Error(`${where}: cannot write checkpoint '${file}': the folder '${dir}' is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a writable folder or change its permissions.`, { cause: e });
  }
  let removed = 0;
  const names = new Set([file, `${file}.prev`, `${file}.history.jsonl`].map((f) => path.basename(f)));
  for (const entry of fs.readdirSync(dir)) {
    const m = /^\.(.*)\.(\d+)\.tmp$/.exec(entry);
    if (m == null || !names.has(m[1]) || alive(Number(m[2]))) continue;
    try {
      fs.unlinkSync(path.join(dir, entry));
      removed += 1;
    } catch {
      // someone else removed it
    }
  }
  return { removed };
}

/**
 * A {@link CheckpointStore} of files: the key is a path (relative to `dir`), each write is
 * atomic ({@link writeFileAtomic}), the history is appended (fsync'd), and `prepare` checks
 * the path is writable before the first iteration and removes temporary files of killed writes.
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
    append: (key, bytes) => appendDurable(where(key), bytes),
    prepare: (key) => {
      prepareFile('train', where(key));
    },
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
 * Reads a checkpoint file written by `train` with a file store, with its history
 * (`<file>.history.jsonl`); validated against the checkpoint schema, so an error names the file
 * and the field. An unreadable file with a good `<file>.prev` gives that one, with a warning.
 *
 * @param file - checkpoint path.
 * @returns the parsed {@link Checkpoint}.
 * @example
 * ```ts
 * import { readCheckpoint } from '@bilevel/outer/node';
 * const ckpt = await readCheckpoint('/tmp/run/ckpt.json');
 * console.log(ckpt.iterations, ckpt.work.innerIterations, ckpt.history.length);
 * ```
 */
export async function readCheckpoint<S = unknown>(file: string): Promise<Checkpoint<S>> {
  if (!fs.existsSync(file)) throw new Error(`readCheckpoint: '${file}' does not exist; check the path.`);
  const run = await readRun<S>('readCheckpoint', fileStore(), file);
  return run!.checkpoint;
}
