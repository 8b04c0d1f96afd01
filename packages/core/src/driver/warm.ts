import { tf } from '../tf.js';

/**
 * One kept tensor for warm starts: replaced (and the old one disposed) by `set`, reused by
 * `get` only when the requested shape matches, released by `clear`.
 *
 * @example
 * ```ts
 * const slot = new WarmSlot();
 * slot.set(x);                       // keeps a copy
 * const x0 = slot.get(x.shape);      // the copy, or undefined on a shape change
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

  /** Disposes the held tensor. */
  clear(): void {
    if (this.tensor != null && !this.tensor.isDisposed) this.tensor.dispose();
    this.tensor = null;
  }
}
