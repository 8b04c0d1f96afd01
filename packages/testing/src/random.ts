// Seeded random numbers for fixtures. Three generators are kept because the fixtures that use
// them feed measured tables in READMEs and tests: changing a stream changes those figures.

/** mulberry32 uniform stream on [0, 1). */
export function mulberry32Uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Linear congruential uniform stream on [0, 1) (Numerical Recipes constants). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Seeded standard normals (mulberry32 + Box–Muller). */
export function gaussians(count: number, seed: number): number[] {
  const uniform = mulberry32Uniform(seed);
  const out: number[] = [];
  while (out.length < count) {
    const u = Math.max(uniform(), 1e-12);
    const v = uniform();
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

/** rows × cols standard normals (mulberry32) times `scale`. */
export function randomMatrix(rows: number, cols: number, seed: number, scale = 1): number[][] {
  const g = gaussians(rows * cols, seed);
  return Array.from({ length: rows }, (_, i) => g.slice(i * cols, (i + 1) * cols).map((v) => v * scale));
}

/** rows × cols standard normals from the {@link lcg} stream (Box–Muller) times `scale`. */
export function lcgGaussianMatrix(rows: number, cols: number, seed: number, scale = 1): number[][] {
  const r = lcg(seed);
  const gaussian = () => {
    const u = Math.max(r(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  };
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => gaussian() * scale));
}

/** rows × cols uniforms on [−scale, scale] from the {@link lcg} stream. */
export function lcgUniformMatrix(rows: number, cols: number, seed: number, scale = 1): number[][] {
  const r = lcg(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => (r() * 2 - 1) * scale));
}
