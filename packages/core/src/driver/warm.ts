import { tf } from '../tf.js';

/**
 * One kept tensor as plain data: its shape and its float32 values (a copy). The unit of a
 * {@link WarmState}.
 */
export interface WarmTensor {
  shape: number[];
  values: Float32Array;
}

/**
 * A strategy's warm-start state as plain data, slot name → {@link WarmTensor}: what
 * `strategy.warmState()` returns and `strategy.loadWarmState(state)` takes back. The slots of a
 * driven strategy are `x` (the driver's warm start of the forward solve) and `rule.<name>` /
 * `forward.<name>` for the rule's and the forward solve's own (the implicit adjoint's q per
 * purpose, piggyback's saddle point and adjoint). Checkpoints store it, so a resumed run
 * starts every solve from the same point as the uninterrupted one (bit for bit).
 *
 * @example
 * ```ts
 * const saved = strategy.warmState();          // { x: { shape, values }, 'rule.hypergradient': ... }
 * const fresh = implicit({ inner: lbfgs(), linear: cg() });
 * fresh.loadWarmState(saved);                  // continues exactly where `strategy` was
 * ```
 */
export type WarmState = Record<string, WarmTensor>;

/**
 * Checks one slot of a {@link WarmState} (integer shape, `values` a Float32Array of the
 * shape's size) and throws a message naming `where` and the slot otherwise.
 *
 * @param where - function name for the message.
 * @param slot - the slot's name.
 * @param value - the candidate.
 * @returns the value, typed.
 * @example
 * ```ts
 * checkWarmTensor('loadWarmState', 'x', { shape: [2], values: new Float32Array(2) });
 * ```
 */
export function checkWarmTensor(where: string, slot: string, value: unknown): WarmTensor {
  const v = value as WarmTensor | null;
  const shapeOk = v != null && Array.isArray(v.shape) && v.shape.every((d) => Number.isInteger(d) && d >= 0);
  if (!shapeOk || !(v!.values instanceof Float32Array)) {
    throw new Error(`${where}: warm-state slot '${slot}' must be { shape: number[], values: Float32Array }, as warmState() returns it.`);
  }
  const size = v!.shape.reduce((a, b) => a * b, 1);
  if (v!.values.length !== size) throw new Error(`${where}: warm-state slot '${slot}' has ${v!.values.length} values for shape [${v!.shape}] (${size}); the state is corrupt.`);
  return v!;
}

/**
 * Exports the slots of several holders under prefixes (`{ rule: slots }` → `rule.q`):
 * how a strategy assembles its {@link WarmState} from its parts.
 *
 * @param parts - prefix → that part's own warm state (undefined parts are skipped).
 * @returns the merged state.
 * @example
 * ```ts
 * const state = prefixWarmState({ rule: rule.warmState?.(), forward: forward.warmState?.() });
 * ```
 */
export function prefixWarmState(parts: Record<string, WarmState | undefined>): WarmState {
  const out: WarmState = {};
  for (const [prefix, state] of Object.entries(parts)) {
    if (state == null) continue;
    for (const [slot, value] of Object.entries(state)) out[`${prefix}.${slot}`] = value;
  }
  return out;
}

/**
 * The slots of `state` under `prefix` (`rule.q` → `q` for prefix `rule`), the inverse of
 * {@link prefixWarmState}.
 *
 * @param state - a merged state.
 * @param prefix - the part's prefix.
 * @returns that part's slots.
 * @example
 * ```ts
 * rule.loadWarmState?.(unprefixWarmState(state, 'rule'));
 * ```
 */
export function unprefixWarmState(state: WarmState, prefix: string): WarmState {
  const out: WarmState = {};
  for (const [slot, value] of Object.entries(state)) if (slot.startsWith(`${prefix}.`)) out[slot.slice(prefix.length + 1)] = value;
  return out;
}

/**
 * One kept tensor for warm starts: replaced (and the old one disposed) by `set`, reused by
 * `get` only when the requested shape matches, released by `clear`; `snapshot` / `restore`
 * move it to and from plain data (a {@link WarmTensor}) for checkpoints.
 *
 * @example
 * ```ts
 * const slot = new WarmSlot();
 * slot.set(x);                       // keeps a copy
 * const x0 = slot.get(x.shape);      // the copy, or undefined on a shape change
 * const saved = slot.snapshot();     // { shape, values } or undefined
 * slot.restore(saved);
 * slot.clear();
 * ```
 */
export class WarmSlot {
  private tensor: tf.Tensor | null = null;

  /** Whether a tensor is held. */
  get held(): boolean {
    return this.tensor != null && !this.tensor.isDisposed;
  }

  /** Shape of the held tensor (undefined when empty). */
  get shape(): number[] | undefined {
    return this.held ? this.tensor!.shape.slice() : undefined;
  }

  /** The held tensor when its shape is `shape` (not a copy: do not dispose it). */
  get(shape: number[]): tf.Tensor | undefined {
    if (!this.held || !tf.util.arraysEqual(this.tensor!.shape, shape)) return undefined;
    return this.tensor!;
  }

  /** Keeps a copy of `value` (not consumed), disposing the previous one. */
  set(value: tf.Tensor): void {
    const next = tf.keep(value.clone());
    this.clear();
    this.tensor = next;
  }

  /** The held tensor as plain data (a copy of its float32 values), or undefined when empty. */
  snapshot(): WarmTensor | undefined {
    if (!this.held) return undefined;
    return { shape: this.tensor!.shape.slice(), values: Float32Array.from(this.tensor!.dataSync()) };
  }

  /** Holds the tensor `saved` describes (undefined: empties the slot). */
  restore(saved: WarmTensor | undefined): void {
    this.clear();
    if (saved != null) this.tensor = tf.keep(tf.tensor(saved.values, saved.shape, 'float32'));
  }

  /** Disposes the held tensor. */
  clear(): void {
    if (this.tensor != null && !this.tensor.isDisposed) this.tensor.dispose();
    this.tensor = null;
  }
}

/**
 * The {@link WarmState} of named slots (empty slots are left out).
 *
 * @param slots - slot name → {@link WarmSlot}.
 * @returns the state.
 * @example
 * ```ts
 * const state = slotsWarmState({ hypergradient: slotA, argmin: slotB });
 * ```
 */
export function slotsWarmState(slots: Record<string, WarmSlot>): WarmState {
  const out: WarmState = {};
  for (const [name, slot] of Object.entries(slots)) {
    const saved = slot.snapshot();
    if (saved != null) out[name] = saved;
  }
  return out;
}

/**
 * Restores named slots from a {@link WarmState}: every slot is emptied first, then filled from
 * `state`; a slot name the holder does not have is an error (the state belongs to another
 * strategy).
 *
 * @param where - function name for messages.
 * @param slots - slot name → {@link WarmSlot}.
 * @param state - what {@link slotsWarmState} returned.
 * @example
 * ```ts
 * loadSlotsWarmState('implicitAdjoint.loadWarmState', { hypergradient: slotA, argmin: slotB }, saved);
 * ```
 */
export function loadSlotsWarmState(where: string, slots: Record<string, WarmSlot>, state: WarmState): void {
  for (const name of Object.keys(state)) {
    if (!(name in slots)) throw new Error(`${where}: unknown warm-state slot '${name}' (this holder has ${Object.keys(slots).map((s) => `'${s}'`).join(', ') || 'none'}); the state was saved by another strategy.`);
    checkWarmTensor(where, name, state[name]);
  }
  for (const [name, slot] of Object.entries(slots)) slot.restore(state[name]);
}
