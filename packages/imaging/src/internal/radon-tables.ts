/**
 * The matrix of a ray-driven Radon transform (see `operators/radon.ts`) twice in compressed sparse row
 * form, each entry once: per ray its pixels (A's rows) and per pixel its rays (Aᵀ's rows). Row r's
 * entries are `start[r] … start[r + 1] − 1`; a ray lists its pixels in the order its samples reach
 * them, a pixel its rays in increasing order.
 */
export interface RayTables {
  /** Per ray: `rays + 1` row starts, then the pixel indices and weights of its entries. */
  rayStart: Int32Array;
  rayPixels: Int32Array;
  rayWeights: Float32Array;
  /** The most pixels of one ray. */
  rayWidth: number;
  /** Per pixel: `n² + 1` row starts, then the ray indices and weights of its entries. */
  pixelStart: Int32Array;
  pixelRays: Int32Array;
  pixelWeights: Float32Array;
  /** The most rays through one pixel. */
  pixelWidth: number;
  /** √(max row sum · max column sum) ≥ ‖A‖₂. */
  normBound: number;
}

/**
 * Builds the weights of `(A x)(φ, s) = h Σ_m x̃(s e + t_m e^⊥)` (bilinear x̃, pixel centres at
 * `(j − (n−1)/2, (n−1)/2 − i)`), merging duplicate (ray, pixel) pairs, in float64, then the two
 * compressed tables (weights rounded once to float32). Samples cover `|t| ≤ n/√2 + 1`, so every ray crosses the whole image.
 */
export function rayTables(n: number, angles: number[], detectors: number, ds: number, h: number): RayTables {
  const c = (n - 1) / 2;
  const half = n / Math.SQRT2 + 1;
  const steps = Math.ceil(half / h);
  const rays = angles.length * detectors;
  // Per ray: duplicates merged in a dense scratch row (n² doubles) with a list of touched pixels.
  const perRay: Array<{ pixels: Int32Array; weights: Float64Array }> = [];
  const scratch = new Float64Array(n * n);
  const touched = new Int32Array(n * n);
  for (let k = 0; k < angles.length; k++) {
    const cs = Math.cos(angles[k]);
    const sn = Math.sin(angles[k]);
    for (let d = 0; d < detectors; d++) {
      const s = (d - (detectors - 1) / 2) * ds;
      let count = 0;
      for (let m = -steps; m <= steps; m++) {
        const t = m * h;
        const px = s * cs - t * sn;
        const py = s * sn + t * cs;
        // column j = px + c, row i = c − py
        const fj = px + c;
        const fi = c - py;
        const j0 = Math.floor(fj);
        const i0 = Math.floor(fi);
        const aj = fj - j0;
        const ai = fi - i0;
        for (let q = 0; q < 4; q++) {
          const di = q >> 1;
          const dj = q & 1;
          const wt = (di === 0 ? 1 - ai : ai) * (dj === 0 ? 1 - aj : aj);
          const i = i0 + di;
          const j = j0 + dj;
          if (i < 0 || j < 0 || i >= n || j >= n || wt === 0) continue;
          const p = i * n + j;
          if (scratch[p] === 0) touched[count++] = p;
          scratch[p] += h * wt;
        }
      }
      const pixels = touched.slice(0, count);
      const weights = new Float64Array(count);
      for (let q = 0; q < count; q++) {
        weights[q] = scratch[pixels[q]];
        scratch[pixels[q]] = 0;
      }
      perRay.push({ pixels, weights });
    }
  }
  // Transpose in two passes (counts, then fill): no per-pixel arrays.
  const counts = new Int32Array(n * n);
  const colSums = new Float64Array(n * n);
  let rayWidth = 1;
  let maxRow = 0;
  for (const { pixels, weights } of perRay) {
    rayWidth = Math.max(rayWidth, pixels.length);
    let sum = 0;
    for (let q = 0; q < pixels.length; q++) {
      counts[pixels[q]]++;
      colSums[pixels[q]] += weights[q];
      sum += weights[q];
    }
    maxRow = Math.max(maxRow, sum);
  }
  let pixelWidth = 1;
  let maxCol = 0;
  for (let p = 0; p < n * n; p++) {
    pixelWidth = Math.max(pixelWidth, counts[p]);
    maxCol = Math.max(maxCol, colSums[p]);
  }
  const rayStart = new Int32Array(rays + 1);
  perRay.forEach(({ pixels }, r) => { rayStart[r + 1] = rayStart[r] + pixels.length; });
  const pixelStart = new Int32Array(n * n + 1);
  for (let p = 0; p < n * n; p++) pixelStart[p + 1] = pixelStart[p] + counts[p];
  const entries = rayStart[rays];
  const rayPixels = new Int32Array(entries);
  const rayWeights = new Float32Array(entries);
  const pixelRays = new Int32Array(entries);
  const pixelWeights = new Float32Array(entries);
  const fill = pixelStart.slice(0, n * n);
  perRay.forEach(({ pixels, weights }, r) => {
    for (let q = 0; q < pixels.length; q++) {
      const p = pixels[q];
      rayPixels[rayStart[r] + q] = p;
      rayWeights[rayStart[r] + q] = weights[q];
      const slot = fill[p]++;
      pixelRays[slot] = r;
      pixelWeights[slot] = weights[q];
    }
  });
  return { rayStart, rayPixels, rayWeights, rayWidth, pixelStart, pixelRays, pixelWeights, pixelWidth, normBound: Math.sqrt(maxRow * maxCol) };
}

/**
 * One of the compressed tables padded to `width` entries a row, the layout of the tfjs route's
 * `gather`: padding entries point at `fill` (an appended zero) with weight 0.
 *
 * @param start - `rows + 1` row starts.
 * @param index - the entries' column indices.
 * @param weight - the entries' weights.
 * @param width - entries per padded row (≥ the longest row).
 * @param fill - the padding index.
 * @returns `rows × width` indices and weights, row-major.
 */
export function paddedTable(start: Int32Array, index: Int32Array, weight: Float32Array, width: number, fill: number): { index: Int32Array; weight: Float32Array } {
  const rows = start.length - 1;
  const outIndex = new Int32Array(rows * width).fill(fill);
  const outWeight = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    outIndex.set(index.subarray(start[r], start[r + 1]), r * width);
    outWeight.set(weight.subarray(start[r], start[r + 1]), r * width);
  }
  return { index: outIndex, weight: outWeight };
}
