/**
 * The greedy Cartesian line selection that Sherry et al. ("Learning the sampling pattern for
 * MRI", IEEE TMI 2020) compare their bilevel method with (Gözcü et al., "Learning-based
 * compressive MRI", IEEE TMI 2018): start from no lines; at every step try each line not yet
 * chosen, reconstruct the training images with the current lines plus that one (one
 * lower-level solve per candidate per image), and keep the line with the lowest training loss
 * (1/n) Σ ½‖x̂_i − x†_i‖² — the bilevel upper level without its sparsity penalty, which is
 * constant at a fixed number of lines; stop at the target number of lines.
 */
import { tf, workUnits } from '@bilevel/core';
import type { Problem, InnerSolver } from '@bilevel/core';

/** What {@link greedyLines} needs: the lower level of a free-layout sampling problem (θ = { sampling: [h, w] mask }). */
export interface GreedyInput<D> {
  problem: Problem<D>;
  inner: InnerSolver;
  data: D & { clean: tf.Tensor };
  /** Image side (lines = rows of k-space). */
  n: number;
  /** Number of lines to select. */
  lines: number;
  /** Inner tolerance of every lower-level solve. */
  tol: number;
  /** Called after every step with the chosen line and the training loss. */
  onStep?: (step: { lines: number; line: number; loss: number; solves: number }) => void;
}

/** What {@link greedyLines} returns. */
export interface GreedyResult {
  /** `[n, n]` 0/1 mask of the chosen rows. */
  mask: tf.Tensor2D;
  /** Chosen rows in the order they were added. */
  order: number[];
  /** Training loss after each step. */
  losses: number[];
  /** Lower-level solves of one image each (candidates × training images, summed over the steps). */
  solves: number;
  /** Candidate evaluations (each one lower-level solve of the whole training batch). */
  evaluations: number;
  /** Total inner work (L-BFGS iterations) of all the solves. */
  work: number;
}

function rowsMask(rows: Iterable<number>, n: number): tf.Tensor2D {
  const values = new Float32Array(n * n);
  for (const r of rows) values.fill(1, r * n, (r + 1) * n);
  return tf.tensor2d(values, [n, n]);
}

/**
 * Greedy forward selection of `lines` k-space rows on the training data; see the file comment.
 *
 * @returns the mask, the order, the losses and the solve counts (see {@link GreedyResult}).
 */
export function greedyLines<D>(input: GreedyInput<D>): GreedyResult {
  const { problem, inner, data, n, lines, tol } = input;
  const images = data.clean.shape[0]!;
  const chosen: number[] = [];
  const losses: number[] = [];
  let solves = 0;
  let evaluations = 0;
  let work = 0;
  while (chosen.length < lines) {
    let best = -1;
    let bestLoss = Infinity;
    for (let line = 0; line < n; line++) {
      if (chosen.includes(line)) continue;
      const mask = rowsMask([...chosen, line], n);
      const r = inner.solve(problem, { sampling: mask }, data, { tol });
      const loss = tf.tidy(() => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(r.x, data.clean)))), images).dataSync()[0]);
      tf.dispose([mask, r.x]);
      solves += images;
      evaluations += 1;
      work += workUnits(r.work);
      // ties (e.g. conjugate-symmetric lines of a real image) go to the lower index
      if (loss < bestLoss) {
        bestLoss = loss;
        best = line;
      }
    }
    chosen.push(best);
    losses.push(bestLoss);
    input.onStep?.({ lines: chosen.length, line: best, loss: bestLoss, solves });
  }
  return { mask: rowsMask(chosen, n), order: chosen, losses, solves, evaluations, work };
}
