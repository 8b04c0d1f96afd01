// Closed-form quadratic bilevel problems and an honest inexact oracle for the tests.
//   lower level (sample i): x̂_i(θ) = argmin_x ½‖A₂x + A₃θ − b₂ᵢ‖² + (ξ/2)‖x‖²
//   upper level:           F(θ) = (1/|B|) Σ_i ½‖A₁x̂_i(θ) − b₁ᵢ‖²
// The oracle runs gradient descent (step 1/L) from a warm start until ‖∇ₓΦ‖ ≤ tol, then CG
// from a warm start until the true adjoint residual is ≤ linearTol, in float32 tensors.
import { tf, emptyWork, readScalar, type Params } from '@bilevel/core';
import { hypergradientBound, valueBound, mulberry32, train, type Checkpoint, type Oracle, type OracleResult, type BoundConstants, type Method, type MethodStateBase, type ParamsArrays } from '../src/index.js';
import { readCheckpoint, fileCheckpoint } from '../src/node.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as D from '@bilevel/testing';

export interface QuadraticSpec {
  rows: number; // rows of A₁, A₂, A₃
  m: number; // dim x
  p: number; // dim θ
  samples: number;
  ridge: number;
  seed: number;
  noise?: number;
  /** 'gaussian' (N(0, 1/rows) entries) or 'uniform' (U[0, 1) entries, as in the MAID paper's quadratic problem). */
  kind?: 'gaussian' | 'uniform';
}

export interface Quadratic {
  spec: QuadraticSpec;
  A1: D.Mat;
  A2: D.Mat;
  A3: D.Mat;
  b1: number[][];
  b2: number[][];
  H: D.Mat;
  constants: Required<BoundConstants>;
  /** L of ∇F over the full set (for HOAG's 1/L). */
  lipschitzF: number;
  thetaStar: number[];
  fStar: number;
  xHat(theta: number[], i: number): number[];
  F(theta: number[], batch?: number[]): number;
  gradF(theta: number[], batch?: number[]): number[];
}

function gaussian(rng: { next(): number }): number {
  const u = Math.max(rng.next(), 1e-12);
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Builds the problem; every entry is rounded to float32 so tensors and references agree. */
export function makeQuadratic(spec: QuadraticSpec): Quadratic {
  const rng = mulberry32(spec.seed);
  const f = Math.fround;
  const uniform = spec.kind === 'uniform';
  const draw = () => (uniform ? rng.next() : gaussian(rng));
  const s0 = uniform ? 1 : 1 / Math.sqrt(spec.rows);
  const mat = (r: number, c: number) => Array.from({ length: r }, () => Array.from({ length: c }, () => f(draw() * s0)));
  const A1 = mat(spec.rows, spec.m);
  const A2 = mat(spec.rows, spec.m);
  const A3 = mat(spec.rows, spec.p);
  const noise = spec.noise ?? 0.1;
  const thetaTrue = Array.from({ length: spec.p }, draw);
  const b1: number[][] = [];
  const b2: number[][] = [];
  for (let i = 0; i < spec.samples; i++) {
    const x1 = Array.from({ length: spec.m }, draw);
    const x2 = Array.from({ length: spec.m }, draw);
    b1.push(D.add(D.matvec(A1, x1), Array.from({ length: spec.rows }, () => noise * gaussian(rng))).map(f));
    b2.push(D.add(D.add(D.matvec(A2, x2), D.matvec(A3, thetaTrue)), Array.from({ length: spec.rows }, () => noise * gaussian(rng))).map(f));
  }
  const A2t = D.transpose(A2);
  const H = D.matmul(A2t, A2).map((row, i) => row.map((v, j) => v + (i === j ? spec.ridge : 0)));
  const eigH = D.symEig(H);
  const A1tA1 = D.matmul(D.transpose(A1), A1);
  const J = D.matmul(A2t, A3); // ∇²ₓθΦ (m × p)
  const constants: Required<BoundConstants> = {
    mu: eigH[0],
    lossLipschitz: Math.max(...D.symEig(A1tA1)),
    mixedNorm: D.norm2(J),
    hessianLipschitz: 0,
    mixedLipschitz: 0,
    lossThetaLipschitz: 0,
  };
  // x̂(θ) = c_i − Mθ with M = H⁻¹A₂ᵀA₃, c_i = H⁻¹A₂ᵀb₂ᵢ.
  const M = D.transpose(D.transpose(J).map((col) => D.solve(H, col)));
  const c = b2.map((b) => D.solve(H, D.matvec(A2t, b)));
  const xHat = (theta: number[], i: number) => D.sub(c[i], D.matvec(M, theta));
  const all = Array.from({ length: spec.samples }, (_, i) => i);
  const F = (theta: number[], batch = all) => {
    let s = 0;
    for (const i of batch) s += 0.5 * D.norm(D.sub(D.matvec(A1, xHat(theta, i)), b1[i])) ** 2;
    return s / batch.length;
  };
  const gradF = (theta: number[], batch = all) => {
    let g = new Array(spec.p).fill(0);
    for (const i of batch) {
      const r = D.sub(D.matvec(A1, xHat(theta, i)), b1[i]);
      // ∇F_i = −Mᵀ A₁ᵀ r
      g = D.sub(g, D.matvec(D.transpose(M), D.matvec(D.transpose(A1), r)));
    }
    return D.scale(g, 1 / batch.length);
  };
  // θ* from the normal equations of the least-squares problem in θ.
  const A1M = D.matmul(A1, M);
  const Q = D.matmul(D.transpose(A1M), A1M);
  const rhs = all.reduce((s, i) => D.add(s, D.matvec(D.transpose(A1M), D.sub(D.matvec(A1, c[i]), b1[i]))), new Array(spec.p).fill(0)).map((v) => v / spec.samples);
  const thetaStar = D.solve(Q, rhs);
  return { spec, A1, A2, A3, b1, b2, H, constants, lipschitzF: Math.max(...D.symEig(Q)), thetaStar, fStar: F(thetaStar), xHat, F, gradF };
}

/** An honest inexact oracle for `q` (see file header). */
export function quadraticOracle(q: Quadratic, opts: { maxIter?: number; warm?: boolean } = {}): Oracle & { dispose(): void } {
  const { spec } = q;
  const maxIter = opts.maxIter ?? 3000;
  const warmStart = opts.warm ?? true;
  const A1 = tf.tensor2d(q.A1);
  const A2 = tf.tensor2d(q.A2);
  const A3 = tf.tensor2d(q.A3);
  const b1 = q.b1.map((b) => tf.tensor1d(b));
  const b2 = q.b2.map((b) => tf.tensor1d(b));
  const lipschitzPhi = Math.max(...D.symEig(q.H));
  const step = 1 / lipschitzPhi;
  const col = (v: tf.Tensor) => tf.reshape(v, [-1, 1]);
  const mv = (a: tf.Tensor, v: tf.Tensor) => tf.reshape(tf.matMul(a, col(v)), [-1]);
  const mtv = (a: tf.Tensor, v: tf.Tensor) => tf.reshape(tf.matMul(a, col(v), true, false), [-1]);
  const hess = (v: tf.Tensor) => tf.add(mtv(A2, mv(A2, v)), tf.mul(v, spec.ridge));
  const norm = (t: tf.Tensor) => readScalar(tf.tidy(() => tf.norm(t)));
  const xs: Array<tf.Tensor | null> = new Array(spec.samples).fill(null);
  const qs: Array<tf.Tensor | null> = new Array(spec.samples).fill(null);
  const all = Array.from({ length: spec.samples }, (_, i) => i);

  function solveSample(i: number, theta: tf.Tensor, tol: number, linearTol: number, valueOnly: boolean) {
    let innerIterations = 0;
    let linearIterations = 0;
    const shift = tf.tidy(() => tf.sub(mv(A3, theta), b2[i]));
    const gradPhi = (x: tf.Tensor) => tf.tidy(() => tf.add(mtv(A2, tf.add(mv(A2, x), shift)), tf.mul(x, spec.ridge)));
    let x = warmStart && xs[i] != null ? tf.clone(xs[i]!) : tf.zeros([spec.m]);
    let g = gradPhi(x);
    let residual = norm(g);
    while (residual > tol && innerIterations < maxIter) {
      const nx = tf.tidy(() => tf.sub(x, tf.mul(g, step)));
      x.dispose();
      g.dispose();
      x = nx;
      g = gradPhi(x);
      residual = norm(g);
      innerIterations++;
    }
    g.dispose();
    shift.dispose();
    const eps = residual / q.constants.mu;
    const r1 = tf.tidy(() => tf.sub(mv(A1, x), b1[i]));
    const value = 0.5 * readScalar(tf.tidy(() => tf.sum(tf.square(r1))));
    const lossGrad = tf.tidy(() => mtv(A1, r1));
    r1.dispose();
    const lossGradNorm = norm(lossGrad);
    if (warmStart) {
      xs[i]?.dispose();
      xs[i] = tf.keep(tf.clone(x));
    }
    x.dispose();
    if (valueOnly) {
      lossGrad.dispose();
      return { value, eps, lossGradNorm, innerIterations, linearIterations, grad: null as tf.Tensor | null, adjointNorm: 0, delta: 0 };
    }
    // CG on H q = ∇ₓℓ(x̃), certified by the true residual.
    let qv = warmStart && qs[i] != null ? tf.clone(qs[i]!) : tf.zeros([spec.m]);
    let r = tf.tidy(() => tf.sub(lossGrad, hess(qv)));
    let rn = norm(r);
    while (rn > linearTol && linearIterations < maxIter) {
      let p = tf.clone(r);
      let rs = rn * rn;
      for (let inner = 0; inner < spec.m && rn > linearTol; inner++) {
        const Hp = tf.tidy(() => hess(p));
        const pHp = readScalar(tf.tidy(() => tf.sum(tf.mul(p, Hp))));
        const a = rs / pHp;
        const nq = tf.tidy(() => tf.add(qv, tf.mul(p, a)));
        const nr = tf.tidy(() => tf.sub(r, tf.mul(Hp, a)));
        Hp.dispose();
        qv.dispose();
        r.dispose();
        qv = nq;
        r = nr;
        const rsNew = readScalar(tf.tidy(() => tf.sum(tf.square(r))));
        const np = tf.tidy(() => tf.add(r, tf.mul(p, rsNew / rs)));
        p.dispose();
        p = np;
        rs = rsNew;
        rn = Math.sqrt(rsNew);
        linearIterations++;
      }
      p.dispose();
      // Restart from the true residual so the certificate does not rest on the recursion.
      r.dispose();
      r = tf.tidy(() => tf.sub(lossGrad, hess(qv)));
      rn = norm(r);
    }
    r.dispose();
    lossGrad.dispose();
    const grad = tf.tidy(() => tf.neg(mtv(A3, mv(A2, qv))));
    const adjointNorm = norm(qv);
    if (warmStart) {
      qs[i]?.dispose();
      qs[i] = tf.keep(tf.clone(qv));
    }
    qv.dispose();
    return { value, eps, lossGradNorm, innerIterations, linearIterations, grad, adjointNorm, delta: rn };
  }

  const oracle = (theta: Params, accuracy: { tol: number; linearTol: number }, options: { batch?: number[]; valueOnly?: boolean } = {}): OracleResult => {
    const batch = options.batch ?? all;
    const work = emptyWork();
    let value = 0;
    let bound = 0;
    let vBound = 0;
    let converged = true;
    let grad: tf.Tensor | null = options.valueOnly ? null : tf.zeros([spec.p]);
    for (const i of batch) {
      const s = solveSample(i, theta.theta, accuracy.tol, accuracy.linearTol, options.valueOnly ?? false);
      converged &&= s.eps * q.constants.mu <= accuracy.tol && s.delta <= accuracy.linearTol;
      work.innerIterations += s.innerIterations;
      work.linearIterations += s.linearIterations;
      value += s.value / batch.length;
      vBound += valueBound(s.lossGradNorm, s.eps, q.constants.lossLipschitz) / batch.length;
      if (s.grad != null && grad != null) {
        bound += hypergradientBound(q.constants, { eps: s.eps, delta: s.delta, adjointNorm: s.adjointNorm }) / batch.length;
        const ng = tf.tidy(() => tf.add(grad!, tf.div(s.grad!, batch.length)));
        grad.dispose();
        s.grad.dispose();
        grad = ng;
      }
    }
    const g = grad;
    return {
      value,
      grad: g == null ? undefined : { theta: g },
      bound: g == null ? NaN : bound,
      valueBound: vBound,
      work,
      converged,
      dispose: () => g?.dispose(),
    };
  };
  const toJson = (ts: Array<tf.Tensor | null>) => ts.map((t) => (t == null ? null : Array.from(t.dataSync())));
  const fromJson = (ts: Array<tf.Tensor | null>, s: Array<number[] | null>) => {
    ts.forEach((t) => t?.dispose());
    s.forEach((v, i) => (ts[i] = v == null ? null : tf.keep(tf.tensor1d(v))));
  };
  return Object.assign(oracle, {
    saveState: () => ({ xs: toJson(xs), qs: toJson(qs) }),
    loadState(s: unknown) {
      const st = s as { xs: Array<number[] | null>; qs: Array<number[] | null> };
      fromJson(xs, st.xs);
      fromJson(qs, st.qs);
    },
    dispose() {
      [A1, A2, A3, ...b1, ...b2].forEach((t) => t.dispose());
      xs.forEach((t) => t?.dispose());
      qs.forEach((t) => t?.dispose());
    },
  });
}

/**
 * Runs `method` through `train` from θ₀ = 0 on {@link quadraticOracle} until the exact
 * F − F* ≤ `fraction`·(F₀ − F*) or the budget ends; `reached` is the work at that point.
 */
export async function runToTarget<S extends MethodStateBase>(
  q: Quadratic,
  method: Method<S>,
  options: { fraction: number; maxIterations: number; maxWork?: number },
) {
  const theta0 = new Array(q.spec.p).fill(0);
  const f0 = q.F(theta0);
  const target = options.fraction * (f0 - q.fStar);
  const oracle = quadraticOracle(q);
  const thetaT = { theta: tf.tensor1d(theta0) };
  let reached: number | undefined;
  let finalF = f0;
  const result = await train({
    method,
    oracle,
    theta0: thetaT,
    budget: { iterations: options.maxIterations, work: options.maxWork },
    stop: (event, theta: ParamsArrays) => {
      finalF = q.F(theta.theta.values);
      if (finalF - q.fStar <= target) {
        reached = event.work;
        return true;
      }
      return false;
    },
  });
  tf.dispose([thetaT.theta, ...Object.values(result.theta)]);
  oracle.dispose();
  const history = result.history;
  return { reached, f0, finalF, iterations: history.length, status: result.status, message: result.message, history };
}

/**
 * The kill-and-resume experiment on {@link quadraticOracle}: `method()` runs `total` iterations
 * uninterrupted, and again killed after `k` (checkpoint every iteration) and resumed from the
 * checkpoint with a fresh oracle. Returns the three results, the checkpoint read after the kill
 * and the temporary files left then; the caller disposes the results' θ.
 */
export async function killAndResume<S extends MethodStateBase>(q: Quadratic, method: () => Method<S>, total: number, k: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${method().name}-ckpt-`));
  const file = path.join(dir, 'checkpoint.json');
  const theta0 = { theta: tf.zeros([q.spec.p]) };
  const o1 = quadraticOracle(q);
  const full = await train({ method: method(), oracle: o1, theta0, budget: { iterations: total } });
  const o2 = quadraticOracle(q);
  const part = await train({ method: method(), oracle: o2, theta0, budget: { iterations: k }, checkpoint: fileCheckpoint(file, 1) });
  const ckpt: Checkpoint<S> = await readCheckpoint<S>(file);
  const leftovers = fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
  o2.dispose();
  const o3 = quadraticOracle(q);
  const resumed = await train({ method: method(), oracle: o3, theta0, budget: { iterations: total }, checkpoint: fileCheckpoint(file, 1), resume: true });
  tf.dispose(theta0.theta);
  o1.dispose();
  o3.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  return { full, part, resumed, ckpt, leftovers };
}
