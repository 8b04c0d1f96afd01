// How a run lives in a CheckpointStore: the state under `key` (method state, work, warm starts,
// fingerprint), the previous good state under `key.prev`, and the history as JSON lines under
// `key.history.jsonl`, appended where the store can append. A save appends the new events,
// then writes the previous state to `.prev`, then the new state: a crash at any point leaves
// a state whose first `history.events` lines are complete, so the resume is exact.
import type { ProgressEvent } from '../../train.js';
import type { Checkpoint, CheckpointStore } from '../../checkpoint.js';
import { stringifyExact, parseExact } from './json.js';
import { validate, STATE_SCHEMA, EVENT_SCHEMA, HISTORY_HEADER_SCHEMA } from './schema.js';

/** Where the history and the previous good state of `key` are kept. */
export const historyKey = (key: string) => `${key}.history.jsonl`;
export const previousKey = (key: string) => `${key}.prev`;

/** The stored state: a {@link Checkpoint} without its history, which is in its own value. */
export type StoredState<S = unknown> = Omit<Checkpoint<S>, 'history'> & { history: { key: string; events: number } };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Parses and validates state bytes; throws naming `file` and the field. */
export function decodeState<S>(bytes: Uint8Array, file: string, where: string): StoredState<S> {
  if (bytes.length === 0) throw new Error(`${where}: checkpoint '${file}' is empty (0 bytes); it was never completely written.`);
  let parsed: unknown;
  try {
    parsed = parseExact(decoder.decode(bytes));
  } catch (e) {
    throw new Error(`${where}: checkpoint '${file}' is not JSON (${(e as Error).message}; ${bytes.length} bytes): it is truncated or not a checkpoint.`);
  }
  const p = parsed as { format?: unknown; version?: unknown } | null;
  if (p != null && typeof p === 'object' && p.format === 'bilevel-outer-checkpoint' && p.version === 1) {
    throw new Error(`${where}: checkpoint '${file}' has format version 1 (an older bilevel, without warm starts or fingerprint); it cannot be resumed exactly: start afresh (resume: false, or delete it).`);
  }
  return validate(STATE_SCHEMA, parsed, where, `checkpoint '${file}'`, 'a valid bilevel-outer checkpoint') as unknown as StoredState<S>;
}

/**
 * The first `events` events of a history file (lines after them, e.g. the torn line of a
 * killed append, are ignored); throws naming the file and the line when one is missing or bad.
 */
export function decodeHistory(bytes: Uint8Array | undefined, file: string, run: string, events: number, where: string): { history: ProgressEvent[]; consistentBytes: number; extra: boolean } {
  if (events === 0 && (bytes == null || bytes.length === 0)) return { history: [], consistentBytes: 0, extra: false };
  if (bytes == null) throw new Error(`${where}: checkpoint history '${file}' is missing, but its checkpoint records ${events} events; restore the file or start afresh.`);
  const text = decoder.decode(bytes);
  const history: ProgressEvent[] = [];
  let pos = 0;
  let line = 0;
  // line 0 is the header; a line counts only when its newline was written
  while (history.length < events || line === 0) {
    const end = text.indexOf('\n', pos);
    if (end < 0) {
      throw new Error(`${where}: checkpoint history '${file}' holds ${history.length} complete events, but its checkpoint records ${events}: the history is truncated or belongs to another run.`);
    }
    let parsed: unknown;
    try {
      parsed = parseExact(text.slice(pos, end));
    } catch (e) {
      throw new Error(`${where}: checkpoint history '${file}' line ${line + 1} is not JSON (${(e as Error).message}).`);
    }
    if (line === 0) {
      const header = validate(HISTORY_HEADER_SCHEMA, parsed, where, `checkpoint history '${file}' line 1`, 'a bilevel-outer history header');
      if (header.run !== run) throw new Error(`${where}: checkpoint history '${file}' belongs to run ${header.run}, its checkpoint to run ${run} (a fresh run over the same path was stopped during its first save); start afresh.`);
    } else history.push(validate(EVENT_SCHEMA, parsed, where, `checkpoint history '${file}' line ${line + 1}`, 'a valid progress event') as unknown as ProgressEvent);
    pos = end + 1;
    line += 1;
  }
  const consistentBytes = encoder.encode(text.slice(0, pos)).length;
  return { history, consistentBytes, extra: consistentBytes < bytes.length };
}

async function readOrName(where: string, store: CheckpointStore, key: string): Promise<Uint8Array | undefined> {
  try {
    return await store.read(key);
  } catch (e) {
    throw new Error(`${where}: cannot read checkpoint '${key}' (${(e as Error).message}); check the path and its permissions.`);
  }
}

/** A checkpoint read back: the state, its history, and where it came from. */
export interface ReadRun<S> {
  checkpoint: Checkpoint<S> & { run: string };
  /** The key the state came from: `key`, or `key.prev` after a fallback. */
  from: string;
  /** The history's consistent prefix as bytes (what the history file must be cut back to), and whether it had more. */
  historyBytes: Uint8Array;
  historyExtra: boolean;
  /** The state's bytes (the next save's previous good state). */
  stateBytes: Uint8Array;
}

/**
 * Reads the run under `key`: the state (falling back to `key.prev`, with a warning, when the
 * latest is unreadable) and its history. `undefined` when there is no checkpoint.
 */
export async function readRun<S>(where: string, store: CheckpointStore, key: string, warn: (message: string) => void = console.warn): Promise<ReadRun<S> | undefined> {
  const latest = await readOrName(where, store, key);
  if (latest == null) return undefined;
  const attempt = async (bytes: Uint8Array, file: string) => {
    const state = decodeState<S>(bytes, file, where);
    const hBytes = await readOrName(where, store, state.history.key);
    const h = decodeHistory(hBytes, state.history.key, state.run, state.history.events, where);
    const { history: _h, ...rest } = state;
    return {
      checkpoint: { ...rest, history: h.history } as Checkpoint<S> & { run: string },
      from: file,
      historyBytes: hBytes == null ? new Uint8Array(0) : hBytes.subarray(0, h.consistentBytes),
      historyExtra: h.extra,
      stateBytes: bytes,
    };
  };
  try {
    return await attempt(latest, key);
  } catch (first) {
    const prevKey = previousKey(key);
    const prev = await readOrName(where, store, prevKey);
    if (prev == null) throw new Error(`${(first as Error).message} No previous good checkpoint '${prevKey}' to fall back to.`);
    let fallback;
    try {
      fallback = await attempt(prev, prevKey);
    } catch (second) {
      throw new Error(`${(first as Error).message} The previous checkpoint is unusable too: ${(second as Error).message}`);
    }
    warn(`${(first as Error).message} Resuming from the previous good checkpoint '${prevKey}' (iteration ${fallback.checkpoint.iterations}).`);
    return fallback;
  }
}

/**
 * Saves a run to `store` under `key` (see the file comment for the order of writes).
 * `resumed` is what {@link readRun} returned when the run continues a checkpoint.
 */
export function runWriter<S>(where: string, store: CheckpointStore, key: string, run: string, resumed?: ReadRun<S>) {
  let written = resumed?.checkpoint.history.length ?? 0;
  let lastState: Uint8Array | undefined;
  // A resumed history longer than its state (a kill between the two writes) is cut back once.
  let rewriteHistory = resumed == null || resumed.historyExtra || store.append == null;
  let historyText = resumed == null ? '' : decoder.decode(resumed.historyBytes);
  const header = `${stringifyExact({ format: 'bilevel-outer-history', run })}\n`;
  const named = async (what: string, k: string, op: () => void | Promise<void>) => {
    try {
      await op();
    } catch (e) {
      throw new Error(`${where}: cannot write checkpoint ${what} '${k}' (${(e as Error).message}); choose a writable checkpoint path (checkpoint.key) or free some space.`, { cause: e });
    }
  };
  return {
    async save(state: Omit<StoredState<S>, 'history' | 'run'>, history: ProgressEvent[]): Promise<void> {
      const hKey = historyKey(key);
      const lines = history.slice(written).map((e) => `${stringifyExact(e)}\n`).join('');
      if (rewriteHistory) {
        historyText = (historyText === '' ? header : historyText) + lines;
        await named('history', hKey, () => store.write(hKey, encoder.encode(historyText)));
        // Stores without append rewrite the whole history each save (kept in memory for that).
        rewriteHistory = store.append == null;
        if (!rewriteHistory) historyText = '';
      } else if (lines !== '') {
        await named('history', hKey, () => store.append!(hKey, encoder.encode(lines)));
      }
      written = history.length;
      const bytes = encoder.encode(stringifyExact({ ...state, run, history: { key: hKey, events: history.length } }));
      // The previous good state (on the first save of a fresh run: this one, so .prev never belongs to another run).
      await named('backup', previousKey(key), () => store.write(previousKey(key), lastState ?? resumed?.stateBytes ?? bytes));
      await named('state', key, () => store.write(key, bytes));
      lastState = bytes;
    },
  };
}
