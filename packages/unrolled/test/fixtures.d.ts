/**
 * Test fixtures shared by the unrolled and equilibrium tests: the closed-form bilevel
 * quadratic (exact hypergradient in float64 with dense JS linear algebra) and a
 * non-quadratic log-cosh energy.
 */
import { tf } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
export type Matrix = number[][];
/** Seeded standard normals (mulberry32 + Box–Muller). */
export declare function gaussians(count: number, seed: number): number[];
export declare function randomMatrix(rows: number, cols: number, seed: number, scale?: number): Matrix;
export declare const transpose: (A: Matrix) => Matrix;
export declare const matmul: (A: Matrix, B: Matrix) => Matrix;
export declare const matvec: (A: Matrix, x: number[]) => number[];
export declare const sub: (a: number[], b: number[]) => number[];
export declare const norm: (a: number[]) => number;
/** Solves A x = b by Gaussian elimination with partial pivoting (float64). */
export declare function solveDense(A: Matrix, b: number[]): number[];
/** Largest and smallest eigenvalues of a symmetric positive definite matrix (power iterations, float64). */
export declare function extremeEigenvalues(H: Matrix): {
    max: number;
    min: number;
};
/**
 * Closed-form bilevel quadratic:
 * upper `ℓ(x) = ½‖A₁x − b₁‖²`, lower `x̂(θ) = argmin_x ½‖A₂x + A₃θ − b₂‖² + ½ξ‖x‖²`,
 * so `H = A₂ᵀA₂ + ξI`, `x̂ = −H⁻¹A₂ᵀ(A₃θ − b₂)` and `∇F(θ) = −A₃ᵀA₂H⁻¹A₁ᵀ(A₁x̂ − b₁)`.
 */
export interface Quadratic {
    n: number;
    p: number;
    xi: number;
    A1: Matrix;
    b1: number[];
    A2: Matrix;
    A3: Matrix;
    b2: number[];
    theta0: number[];
    H: Matrix;
    L: number;
    mu: number;
    /** Exact x̂(θ) and ∇F(θ) in float64. */
    exact(theta: number[]): {
        x: number[];
        grad: number[];
        value: number;
    };
}
export declare function makeQuadratic(n?: number, p?: number, xi?: number, seed?: number): Quadratic;
export interface QuadraticData {
    [key: string]: tf.Tensor;
    A1: tf.Tensor2D;
    b1: tf.Tensor1D;
    A2: tf.Tensor2D;
    A3: tf.Tensor2D;
    b2: tf.Tensor1D;
}
/** The quadratic as tensors: problem, loss, data and θ (caller disposes data and theta). */
export declare function quadraticTensors(q: Quadratic): {
    problem: Problem<QuadraticData>;
    loss: (x: tf.Tensor, theta: Params, data: QuadraticData) => tf.Tensor;
    data: QuadraticData;
    theta: Params;
};
export declare function disposeData(d: Record<string, tf.Tensor>): void;
/** Relative error of a float32 result against float64 numbers. */
export declare function relErrNumbers(a: ArrayLike<number>, b: number[]): number;
/**
 * Non-quadratic energy `Φ(x; θ) = ½‖x − y‖² + α Σ logcosh(c ⊙ x)` with θ = { alpha, c }
 * (logcosh written as |z| + softplus(−2|z|) − log 2, which is second-order safe), loss
 * `ℓ(x) = ½‖x − target‖²`. Convex in x with L ≤ 1 + α max c².
 */
export declare function logCoshProblem(n: number, seed: number): {
    problem: Problem<{
        y: tf.Tensor1D;
        target: tf.Tensor1D;
    }>;
    loss: (x: tf.Tensor, _theta: Params, d: {
        y: tf.Tensor1D;
        target: tf.Tensor1D;
    }) => tf.Tensor<tf.Rank>;
    data: {
        y: tf.Tensor1D;
        target: tf.Tensor1D;
    };
    theta: Params;
};
//# sourceMappingURL=fixtures.d.ts.map