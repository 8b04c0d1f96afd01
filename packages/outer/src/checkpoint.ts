/**
 * Checkpoints of {@link train} behind a small storage interface, so the main entry runs in
 * browsers: an in-memory store here, the atomic file store in `@bilevel/outer/node`.
 *
 * @packageDocumentation
 */
import type { Work } from '@bilevel/core';
import type { ProgressEvent } from './train.js';
import { stringifyExact, parseExact } from './internal/checkpoint/json.js';

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

/** Default {@link CheckpointOptions.key}. */
export const DEFAULT_CHECKPOINT_KEY = 'checkpoint.json';

/**
 * A checkpoint store in memory (a `Map` of byte copies): for tests, for a browser tab that
 * only needs to survive a stop/restart of the run, or as a model for your own store.
 *
 * @returns a {@link CheckpointStore} with `keys()` and `delete(key)` besides read/write.
 * @example
 * ```ts
 * const store = memoryStore();
 * await train({ ..., checkpoint: { store, key: 'maid', every: 10 } });
 * await train({ ..., checkpoint: { store, key: 'maid' }, resume: true });   // continues
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
    keys: () => [...entries.keys()],
    delete: (key) => entries.delete(key),
  };
}

/**
 * Serialises a checkpoint to bytes (UTF-8 JSON; NaN and ±Inf become `null`, as in JSON).
 *
 * @param checkpoint - the checkpoint.
 * @returns its bytes.
 * @example
 * ```ts
 * const bytes = encodeCheckpoint(ckpt);
 * ```
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  return new TextEncoder().encode(stringifyExact(checkpoint));
}

/**
 * Parses checkpoint bytes written by {@link train}, checking the format.
 *
 * @param bytes - UTF-8 JSON.
 * @param where - the store key or file, for the error message.
 * @returns the {@link Checkpoint}.
 * @example
 * ```ts
 * const ckpt = decodeCheckpoint(bytes, 'maid');
 * ```
 */
export function decodeCheckpoint<S = unknown>(bytes: Uint8Array, where = 'checkpoint'): Checkpoint<S> {
  let parsed: Checkpoint<S>;
  try {
    parsed = parseExact(new TextDecoder().decode(bytes)) as Checkpoint<S>;
  } catch (e) {
    throw new Error(`readCheckpoint: '${where}' is not JSON (${(e as Error).message}); it is not a bilevel-outer checkpoint.`);
  }
  if (parsed == null || parsed.format !== 'bilevel-outer-checkpoint' || parsed.version !== 1) {
    throw new Error(`readCheckpoint: '${where}' is not a bilevel-outer checkpoint (version 1).`);
  }
  return parsed;
}

/**
 * Reads the checkpoint under `key`, or `undefined` when the store has none.
 *
 * @param store - a {@link CheckpointStore}.
 * @param key - its key (default {@link DEFAULT_CHECKPOINT_KEY}).
 * @returns the checkpoint, or `undefined`.
 * @example
 * ```ts
 * const ckpt = await loadCheckpoint(store, 'maid');
 * console.log(ckpt?.iterations);
 * ```
 */
export async function loadCheckpoint<S = unknown>(store: CheckpointStore, key: string = DEFAULT_CHECKPOINT_KEY): Promise<Checkpoint<S> | undefined> {
  const bytes = await store.read(key);
  return bytes == null ? undefined : decodeCheckpoint<S>(bytes, key);
}
