/**
 * `bilevel check <module>`: finite-difference checks of a user's energy derivatives and a
 * strategy-agreement check (implicit vs unrolled vs equilibrium hypergradients at the same
 * θ, and a central difference of F(θ) along the implicit one), ending in a verdict.
 */
import { tf, initBackend, hypergradient, lbfgs, cg, anderson, seededNormal, flattenParams, disposeParams, zipParams, normParams, readScalar, GRADCHECK_DEFAULTS } from '@bilevel/core';
import type { Params, Strategy, Data } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { unrolled } from '@bilevel/unrolled';
import { equilibrium } from '@bilevel/equilibrium';
import { UsageError, EXIT_FAILURE } from '../../errors.js';
import { parseArgv, flagsHelp, type FlagSpec } from '../../flags.js';
import { handleProcessErrors } from '../../process.js';
import { markdownTable } from '../../output.js';
import { say, withLogsOnStderr, type CliIo } from '../io.js';
import { loadCheckModule, type CheckModule } from '../check/module.js';
import { checkDerivatives, type DerivativeCheck } from '../check/derivatives.js';

/** Flags of `bilevel check`. */
export const CHECK_FLAGS: Record<string, FlagSpec> = {
  tol: { type: 'number', description: 'largest relative error of a derivative accepted', default: GRADCHECK_DEFAULTS.tol },
  agree: { type: 'number', description: 'largest relative difference between strategies accepted', default: 1e-2 },
  directions: { type: 'number', description: 'random directions per derivative', default: 3 },
  steps: { type: 'number', description: 'steps of the unrolled strategy', default: 200 },
  json: { type: 'boolean', description: 'print the results as JSON on stdout' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
};

/** Help of `bilevel check`. */
export function checkHelp(flags: Record<string, FlagSpec>): string {
  return `bilevel check <module.mjs>: check a problem module's derivatives and strategies

The module's default export is an object, or a function ({ tf, core }) => object, with
  energy(x, theta, data)     the lower-level energy Φ (or problem: from defineProblem)
  gradient(x, theta, data)   optional hand-written ∇ₓΦ (the solvers then use it)
  loss(x, theta, data)       the upper-level loss ℓ
  theta, data                θ (an object of tensors) and the lower-level data
  x0 | init(theta, data)     optional starting point; strongConvexity, smoothness optional numbers
Checks ∇ₓΦ, ∇²ₓₓΦ v, ∇²_{xθ}Φ v and ∇ₓℓ against five-point finite differences, then compares
the hypergradients of implicit, unrolled and equilibrium on the same θ with each other and with a
central difference of F(θ) = ℓ(x̂(θ)). Exit code 0 when everything agrees, 1 otherwise.

flags:
${flagsHelp(flags)}`;
}

/** One strategy's hypergradient. */
interface StrategyRow {
  strategy: string;
  /** ⟨∇F, u⟩ along the unit direction u of the implicit gradient. */
  directional: number;
  /** ‖g − g_implicit‖ / ‖g_implicit‖. */
  relDiff: number;
  converged: boolean;
  work: number;
  note?: string;
}

function strategies(m: CheckModule, steps: number): Array<{ name: string; make: () => Strategy; note?: string }> {
  const L = m.problem.lipschitz(m.theta, m.data);
  const list: Array<{ name: string; make: () => Strategy; note?: string }> = [{ name: 'implicit (L-BFGS + CG)', make: () => implicit({ inner: lbfgs({ maxIter: 5000 }), linear: cg({ maxIter: 2000 }) }) }];
  if (L == null) return [...list, { name: 'unrolled', make: () => unrolled(), note: 'skipped: give smoothness (L) for the step 1/L' }, { name: 'equilibrium', make: () => equilibrium(), note: 'skipped: give smoothness (L) for the step 1/L' }];
  return [...list, { name: `unrolled (${steps} GD steps)`, make: () => unrolled({ steps }) }, { name: 'equilibrium (Anderson)', make: () => equilibrium({ forward: anderson(), maxIter: 5000, tol: 1e-6 }) }];
}

/** `bilevel check`; returns the exit code (-1: print the help). */
export async function checkCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgv(argv, CHECK_FLAGS, 'bilevel check');
  if (values.help === true) return -1;
  if (positionals.length !== 1) throw new UsageError(`bilevel check: give one module (bilevel check <module.mjs>), got ${positionals.length === 0 ? 'none' : positionals.join(' ')}.`);
  const tol = (values.tol as number | undefined) ?? GRADCHECK_DEFAULTS.tol;
  const agree = (values.agree as number | undefined) ?? 1e-2;
  const directions = (values.directions as number | undefined) ?? 3;
  const steps = (values.steps as number | undefined) ?? 200;
  for (const [k, v] of [['directions', directions], ['steps', steps]] as const) if (!Number.isInteger(v) || v < 1) throw new UsageError(`bilevel check: flag --${k} must be a positive integer, got ${v}.`);
  for (const [k, v] of [['tol', tol], ['agree', agree]] as const) if (!(v > 0)) throw new UsageError(`bilevel check: flag --${k} must be positive, got ${v}.`);
  const json = values.json === true;
  return withLogsOnStderr(json, async () => {
    await initBackend();
    if (io.handleSigint === true) handleProcessErrors('bilevel check');
    const m = await loadCheckModule(positionals[0]);
    const data = m.data as Data;
    // A generic point: the start, moved by a seeded perturbation (at x = y some terms vanish).
    const start = m.problem.initialPoint(m.theta, data, m.x0);
    const x = tf.tidy(() => tf.add(start, tf.mul(seededNormal(start.shape, 7), 0.1 * Math.max(1, readScalar(tf.norm(start)) / Math.sqrt(start.size)))));
    start.dispose();
    const derivatives: DerivativeCheck[] = checkDerivatives(m.problem, m.loss, m.theta, data, x, directions, tol);
    x.dispose();
    const rows: StrategyRow[] = [];
    let reference = NaN;
    let gImplicit: Params | undefined;
    let u: Params | undefined;
    // With a wrong derivative the solvers chase the wrong point: comparing strategies then says nothing.
    const derivativesFirst = derivatives.every((d) => d.ok) ? undefined : 'skipped: fix the derivatives first';
    for (const s of strategies(m, steps)) {
      if (s.note != null || derivativesFirst != null) {
        rows.push({ strategy: s.name, directional: NaN, relDiff: NaN, converged: false, work: 0, note: s.note ?? derivativesFirst });
        continue;
      }
      const strategy = s.make();
      try {
        const r = hypergradient({ problem: m.problem, theta: m.theta, data, loss: m.loss, strategy, tol: 1e-5, linearTol: 1e-6, onNotConverged: 'warn' });
        if (gImplicit == null) {
          gImplicit = r.grad;
          const n = normParams(r.grad);
          u = zipParams(r.grad, r.grad, (a) => tf.div(a, n > 0 ? n : 1));
        }
        const directional = readScalar(tf.tidy(() => tf.sum(tf.mul(flattenParams(r.grad), flattenParams(u!)))));
        const relDiff = readScalar(tf.tidy(() => tf.div(tf.norm(tf.sub(flattenParams(r.grad), flattenParams(gImplicit!))), tf.maximum(tf.norm(flattenParams(gImplicit!)), 1e-30))));
        rows.push({ strategy: s.name, directional, relDiff, converged: r.converged, work: r.work.innerIterations + r.work.linearIterations, ...(r.converged ? {} : { note: String(r.status) }) });
        r.x.dispose();
        if (r.grad !== gImplicit) disposeParams(r.grad);
      } finally {
        (strategy as { dispose?: () => void }).dispose?.();
      }
    }
    // Reference: central difference of F(θ) = ℓ(x̂(θ)) along u, x̂ by tight L-BFGS solves.
    if (u != null) {
      const h = 1e-2;
      const F = (t: number) => {
        const th = zipParams(m.theta, u!, (a, b) => tf.tidy(() => tf.add(a, tf.mul(b, t))));
        const xs = lbfgs({ maxIter: 5000 }).solve(m.problem, th, data, { tol: 1e-6 }).x;
        const v = readScalar(tf.tidy(() => m.loss(xs, th, data)));
        xs.dispose();
        disposeParams(th);
        return v;
      };
      reference = (-F(2 * h) + 8 * F(h) - 8 * F(-h) + F(-2 * h)) / (12 * h);
      disposeParams(u);
      disposeParams(gImplicit!);
    }
    const scale = Math.max(Math.abs(reference), 1e-12);
    const derivativesOk = derivatives.every((d) => d.ok);
    const compared = rows.filter((r) => r.note == null);
    const worst = Math.max(0, ...compared.map((r) => Math.max(r.relDiff, Math.abs(r.directional - reference) / scale)));
    const strategiesOk = compared.length > 0 && worst <= agree;
    const ok = derivativesOk && strategiesOk;
    const failed = derivatives.filter((d) => !d.ok).map((d) => d.name);
    const verdict = ok
      ? `PASS: the derivatives match finite differences (worst ${Math.max(...derivatives.map((d) => d.maxRelError)).toExponential(1)} ≤ ${tol}) and ${compared.length} strategies agree (worst ${worst.toExponential(1)} ≤ ${agree})`
      : !derivativesOk
        ? `FAIL: ${failed.join(', ')} disagree${failed.length === 1 ? 's' : ''} with finite differences (tol ${tol}): a wrong derivative; fix it before trusting any hypergradient`
        : `FAIL: the strategies disagree (worst relative difference ${worst.toExponential(1)} > ${agree}); see the table (an unconverged solve, a non-smooth energy, or a θ-dependence outside the energy)`;
    if (json) say(io.stdout, JSON.stringify({ module: positionals[0], derivatives, strategies: rows, reference, ok, verdict }, null, 2));
    else {
      say(io.stdout, `bilevel check ${positionals[0]}${m.handGradient ? ' (hand-written ∇ₓΦ)' : ''}\n\nderivatives vs five-point differences (${directions} random directions, tol ${tol}):`);
      say(io.stdout, markdownTable(derivatives.map((d) => ({ derivative: d.name, 'max rel. error': d.skipped ?? d.maxRelError.toExponential(2), verdict: d.ok ? 'ok' : 'WRONG' }))));
      say(io.stdout, `\nhypergradients on the same θ (u = g_implicit/‖g_implicit‖; reference ⟨∇F, u⟩ by central differences of F: ${reference.toExponential(4)}):`);
      say(io.stdout, markdownTable(rows.map((r) => ({ strategy: r.strategy, '⟨∇F, u⟩': Number.isFinite(r.directional) ? r.directional.toExponential(4) : '-', '‖g − g_implicit‖/‖g_implicit‖': Number.isFinite(r.relDiff) ? r.relDiff.toExponential(1) : '-', work: r.work, note: r.note ?? (r.converged ? 'converged' : '') }))));
      say(io.stdout, `\nverdict: ${verdict}`);
    }
    return ok ? 0 : EXIT_FAILURE;
  });
}
