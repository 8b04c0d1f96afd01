/**
 * `@bilevel/testing` (private): fixtures shared by the packages' tests — the problem zoo with
 * float64 reference hypergradients, float64 dense linear algebra (mathjs), seeded random
 * numbers. The vitest helpers (describeEachBackend, randn, relErr) are the subpath
 * `@bilevel/testing/vitest`, so scripts can import the rest without vitest.
 *
 * @packageDocumentation
 */
export { mulberry32Uniform, lcg, gaussians, randomMatrix, lcgGaussianMatrix, lcgUniformMatrix } from './random.js';
export {
  zeros, identity, transpose, matmul, matvec, add, sub, scale, dot, norm, shiftDiagonal, solve, inverse, symEig, norm2, extremeEigenvalues, relErrNumbers,
} from './dense.js';
export type { Mat } from './dense.js';
export { makeQuadratic, quadraticTensors, disposeData, quadraticFixture } from './problems/quadratic.js';
export type { Quadratic, QuadraticData, QuadraticFixture } from './problems/quadratic.js';
export { ridgeRegression } from './problems/ridge.js';
export { logCoshProblem, logCoshTheta, logCoshSolve, logCoshReference } from './problems/logcosh.js';
export { affineFixedPoint, affineFixedPointExact } from './problems/fixed-point.js';
export { quadraticSaddle, tvSaddle, learnedOperatorSaddle } from './problems/saddle.js';
export { problemZoo } from './zoo.js';
export { continuesExactly } from './warm-state.js';
export type { WarmStrategy, WarmCall } from './warm-state.js';
export type { ProblemKind, ZooInstance, ZooProblem } from './zoo.js';
