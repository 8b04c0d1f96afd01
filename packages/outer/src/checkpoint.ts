/**
 * Checkpoints of {@link train} behind a small storage interface, so the main entry runs in
 * browsers: an in-memory store here, the atomic file store in `@bilevel/outer/node`.
 *
 * A run under key `k` is three values: `k` (the state: method state, work, the oracle's and
 * the strategy's warm starts, the run's fingerprint), `k.prev` (the previous good state, the
 * fallback when `k` is unreadable) and `k.history.jsonl` (one progress event per line,
 * appended where the store can append). Files are validated against a schema (zod) when read.
 *
 * @packageDocumentation
 */
import type { Work } from '@bilevel/core';
import type { ProgressEvent } from './train.js';
import type { StopReason } from './types.js';
import { readRun } from './internal/checkpoint/run-store.js';

/**
 * Where checkpoints live: bytes under string keys. Either method may be synchronous or return
 * a promise (IndexedDB, a server, the Origin Private File System). A `write` must replace the
 * old value whole or not at all, so that a crash never leaves a torn checkpoint.
 */
export interface CheckpointStore {
  /** The bytes last written under `key`, or `undefined` when there are none. */
  read(key: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Stores `bytes` under `key`, replacing what was there. */
  write(key: string, bytes: Uint8Array): void | Promise<void>;
  /**
   * Optional: appends `bytes` to the value under `key` (the history, one line per event).
   * Without it the history is rewritten whole at each save.
   */
  append?(key: string, bytes: Uint8Array): void | Promise<void>;
  /**
   * Optional: called once before the first iteration: throw (with a message naming the key)
   * when `key` cannot be written, and remove leftovers of killed writes.
   */
  prepare?(key: string): void | Promise<void>;
}

/** Checkpoint options of {@link train}: the store, the key, and how often to write. */
export interface CheckpointOptions {
  /** Where to write: `memoryStore()`, `fileStore()` from `@bilevel/outer/node`, or your own. */
  store: CheckpointStore;
  /** Key of the checkpoint in the store (a file path for `fileStore()`); default `'checkpoint.json'`. */
  key?: string;
  /** Iterations between checkpoints (default 1). A final checkpoint is always written. */
  every?: number;
}

/** A checkpoint as {@link loadCheckpoint} returns it: the state file with its history. */
export interface Checkpoint<S = unknown> {
  format: 'bilevel-outer-checkpoint';
  version: 2;
  /** Random id of the run (the history file carries it too). */
  run: string;
  method: string;
  iterations: number;
  state: S;
  work: Work;
  history: ProgressEvent[];
  /** The oracle's warm starts (x per batch, the strategy's x̂, adjoint q, saddle point ...). */
  oracleState?: unknown;
  elapsedMs: number;
  /** Method + options, strategy + options, θ keys/shapes/dtypes, θ₀ and data hashes. */
  fingerprint: Record<string, unknown>;
  /** Set by the final save of a run that ended (not for `'aborted'`). */
  finished?: { status: StopReason; message: string };
}

/** Default {@link CheckpointOptions.key}. */
export const DEFAULT_CHECKPOINT_KEY = 'checkpoint.json';

/**
 * A checkpoint store in memory (a `Map` of byte copies): for tests, for a browser tab that
 * only needs to survive a stop/restart of the run, or as a model for your own store.
 *
 * @returns a {@link CheckpointStore} with `append`, `keys()` and `delete(key)` besides read/write.
 * @example
 * ```ts
 * const store = memoryStore();
 * await train({ ..., checkpoint: { store, key: 'maid', every: 10 } });
 * await train({ ..., checkpoint: { store, key: 'maid' }, resume: true });   // continues
 * store.keys();   // ['maid.history.jsonl', 'maid.prev', 'maid']
 * ```
 */
export function memoryStore(): CheckpointStore & { keys(): string[]; delete(key: string): boolean } {
  const entries = new Map<string, Uint8Array>();
  return {
    read: (key) => {
      const bytes = entries.get(key);
      return bytes == null ? undefined : bytes.slice();
    },
    write: (key, bytes) => {
      entries.set(key, bytes.slice());
    },
    append: (key, bytes) => {
      const old = entries.get(key) ?? new Uint8Array(0);
      const next = new Uint8Array(old.length + bytes.length);
      next.set(old);
      next.set(bytes, old.length);
      entries.set(key, next);
    },
    keys: () => [...entries.keys()],
    delete: (key) => entries.delete(key),
  };
}

/**
 * Reads the checkpoint under `key` with its history, or `undefined` when the store has none.
 * The state is validated against the checkpoint schema (an error names the key and the field);
 * when it is unreadable and `key.prev` is good, that one is returned, with a warning.
 *
 * @param store - a {@link CheckpointStore}.
 * @param key - its key (default {@link DEFAULT_CHECKPOINT_KEY}).
 * @returns the checkpoint, or `undefined`.
 * @example
 * ```ts
 * const ckpt = await loadCheckpoint(store, 'maid');
 * console.log(ckpt?.iterations, ckpt?.history.at(-1)?.loss);
 * ```
 */
export async function loadCheckpoint<S = unknown>(store: CheckpointStore, key: string = DEFAULT_CHECKPOINT_KEY): Promise<Checkpoint<S> | undefined> {
  return (await readRun<S>('loadCheckpoint', store, key))?.checkpoint;
}
