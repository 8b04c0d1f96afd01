import { tf, checkWarmTensor, type WarmState, type WarmTensor } from '@bilevel/core';

/**
 * Warm-start state of the piggyback strategy: the last saddle point (x, z) and, after an
 * adjoint solve, its adjoint λ = (a, b). The driver's x-only warm start is not enough here:
 * PDHG restarts from the pair, the adjoint from λ, and `argmin`'s backward pass needs the
 * dual z of the solution it is given.
 */
export class SaddleWarmStart {
  private state: { x: tf.Tensor; z: tf.Tensor; a: tf.Tensor | null; b: tf.Tensor | null } | null = null;
  /** With `adaptiveSteps`: the step ratio σ/τ residual balancing settled on, the next solve's start. */
  ratio: number | null = null;

  /** The kept (x, z) when x has this shape. */
  point(xShape: number[]): { x: tf.Tensor; z: tf.Tensor } | undefined {
    const s = this.state;
    return s != null && tf.util.arraysEqual(s.x.shape, xShape) ? { x: s.x, z: s.z } : undefined;
  }

  /** The kept λ = (a, b) when b is shaped like the dual z. */
  adjoint(z: tf.Tensor): { a: tf.Tensor; b: tf.Tensor } | undefined {
    const s = this.state;
    return s != null && s.a != null && s.b != null && tf.util.arraysEqual(s.b.shape, z.shape) ? { a: s.a, b: s.b } : undefined;
  }

  /** Replaces the saddle point (copies x, takes z) and keeps λ unless a new one is given (taken). */
  remember(x: tf.Tensor, z: tf.Tensor, a?: tf.Tensor, b?: tf.Tensor): void {
    const old = this.state;
    const keepOldAdjoint = a == null && old != null;
    const next = { x: tf.keep(x.clone()), z: tf.keep(z), a: a ?? (keepOldAdjoint ? old.a : null), b: b ?? (keepOldAdjoint ? old.b : null) };
    if (old != null) tf.dispose([old.x, old.z, ...(keepOldAdjoint ? [] : [old.a, old.b].filter((t): t is tf.Tensor => t != null))]);
    this.state = next;
  }

  /** The held (x, z, a, b) as plain data for checkpoints (absent parts are left out). */
  export(): WarmState {
    const s = this.state;
    if (s == null) return {};
    const plain = (t: tf.Tensor): WarmTensor => ({ shape: t.shape.slice(), values: Float32Array.from(t.dataSync()) });
    const out: WarmState = { x: plain(s.x), z: plain(s.z) };
    if (s.a != null && s.b != null) {
      out.a = plain(s.a);
      out.b = plain(s.b);
    }
    if (this.ratio != null) out.ratio = { shape: [1], values: Float32Array.of(this.ratio) };
    return out;
  }

  /** Replaces the held state by what {@link SaddleWarmStart.export} returned (`{}` empties it). */
  import(state: WarmState): void {
    const where = 'piggyback.loadWarmState';
    for (const k of Object.keys(state)) {
      if (!['x', 'z', 'a', 'b', 'ratio'].includes(k)) throw new Error(`${where}: unknown warm-state slot 'rule.${k}'; piggyback keeps rule.x, rule.z, rule.a, rule.b (and rule.ratio with adaptiveSteps).`);
      checkWarmTensor(where, `rule.${k}`, state[k]);
    }
    if ((state.x == null) !== (state.z == null) || (state.a == null) !== (state.b == null) || (state.a != null && state.x == null)) {
      throw new Error(`${where}: the warm state needs x with z, and a with b (got ${Object.keys(state).join(', ')}); pass what warmState() returned.`);
    }
    this.clear();
    // float32 round trip of σ/τ: a resumed run restarts balancing from within 1e-7 of the saved ratio
    if (state.ratio != null) this.ratio = state.ratio.values[0];
    if (state.x == null) return;
    const make = (t: WarmTensor) => tf.keep(tf.tensor(t.values, t.shape, 'float32'));
    this.state = { x: make(state.x), z: make(state.z!), a: state.a != null ? make(state.a) : null, b: state.b != null ? make(state.b) : null };
  }

  /** Disposes everything held. */
  clear(): void {
    const s = this.state;
    if (s != null) tf.dispose([s.x, s.z, ...[s.a, s.b].filter((t): t is tf.Tensor => t != null)]);
    this.state = null;
    this.ratio = null;
  }
}
