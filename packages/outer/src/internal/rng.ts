/**
 * mulberry32: a 32-bit seeded PRNG whose whole state is one uint32, so a checkpoint can
 * store it as a number and a resumed run draws exactly the same numbers.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Current state (a uint32). */
  readonly state: number;
}

export function mulberry32(state: number): Rng {
  let s = state >>> 0;
  return {
    next() {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    get state() {
      return s;
    },
  };
}

/** Fisher–Yates permutation of 0..n−1 drawn from `rng`. */
export function permutation(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
