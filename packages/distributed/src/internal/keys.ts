// Redis key and job-id layout of one run (queue names and ids may not contain ':').
export const THETA_PREFIX = 'bilevel:theta:';
export const warmKey = (run: string, sample: number, call: number) => `bilevel:warm:${run}:${sample}:${call}`;
export const jobId = (run: string, call: number, thetaKey: string, sample: number) => `${run}-c${call}-${thetaKey.slice(THETA_PREFIX.length, THETA_PREFIX.length + 12)}-s${sample}`;

/** What a job carries: references, accuracies and the sample index — never θ or data themselves. */
export interface JobData {
  run: string;
  call: number;
  sample: number;
  theta: string;
  warmFrom?: string;
  warmTo: string;
  job: { kind: 'hypergradient' | 'value'; tol?: number; linearTol?: number; maxIter?: number; linearMaxIter?: number; warmStart?: boolean; onNotConverged?: unknown };
}
