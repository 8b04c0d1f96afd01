/**
 * One option mechanism, everywhere: every public function and factory of every package that
 * takes an options object rejects a misspelt key with an error naming the function, the key
 * and the nearest valid key (core's `checkOptions`), nested objects included.
 *
 * The table is keyed by export name and driven from the packages' exports: an exported
 * function that is neither in CASES nor in NO_OPTIONS (with the reason it takes none) fails
 * the completeness test, so a new export cannot skip the mechanism unnoticed.
 *
 * For each case the test (1) calls it with a key no function has, reads the option list from
 * the error, then (2) for every listed key of two or more letters calls it with that key
 * misspelt (last letter doubled) and asserts that the error names the misspelt key and
 * suggests the listed key (or one at the same edit distance: the nearest is what is promised).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as core from '../src/index.js';
import { tf } from '../src/index.js';
import { editDistance } from '../src/internal/edit-distance.js';


/*
 * The other packages depend on core, so core's TypeScript project cannot reference them;
 * they are imported by path at run time (untyped: the calls below are checked by this test).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Module = Record<string, any>;
const load = (name: string): Promise<Module> => import(new URL(`../../${name}/src/index.ts`, import.meta.url).href) as Promise<Module>;
const [implicitPkg, unrolledPkg, equilibriumPkg, jfbPkg, piggybackPkg, imagingPkg, outerPkg] = await Promise.all(
  ['implicit', 'unrolled', 'equilibrium', 'jfb', 'piggyback', 'imaging', 'outer'].map(load),
);
// the command line's library (@bilevel/cli)
const cliPkg = await load('cli');
// the Node-only subpaths (@bilevel/imaging/node, @bilevel/outer/node)
const [imagingNode, outerNode] = await Promise.all(
  ['imaging', 'outer'].map((name) => import(new URL(`../../${name}/src/node.ts`, import.meta.url).href) as Promise<Module>),
);
const [poolPkg, distributedPkg] = await Promise.all(['pool', 'distributed'].map(load));
const PACKAGES: Record<string, Module> = {
  core, implicit: implicitPkg, unrolled: unrolledPkg, equilibrium: equilibriumPkg, jfb: jfbPkg, piggyback: piggybackPkg, imaging: imagingPkg, outer: outerPkg,
  imagingNode, outerNode, pool: poolPkg, distributed: distributedPkg, cli: cliPkg,
};

type Options = Record<string, unknown>;
/** Calls the function under test with `o` where its options go. */
type Call = (o: Options) => unknown;

// Fixtures (built in beforeAll, after the backend is ready).
let x: tf.Tensor;
let theta: core.Params;
let image: tf.Tensor4D;
let mask: tf.Tensor2D;
const data = {};
const energy = (z: tf.Tensor, th: core.Params) => tf.mul(0.5, tf.sum(tf.square(tf.sub(z, th.a))));
const loss: core.Loss = (z: tf.Tensor) => tf.sum(tf.square(z));
let problem: core.Problem;
let strategy: core.Strategy;
const notCalled = () => {
  throw new Error('the test oracle must not be called');
};

/** Every public function that takes an options object: export name (or export.nested) → call. */
const CASES: Record<string, Call> = {
  // core: inner solvers, their nested settings and their per-call options
  'core.gradientDescent': (o) => core.gradientDescent(o),
  'core.gradientDescent.backtracking': (o) => core.gradientDescent({ backtracking: o }),
  'core.gradientDescent.solve': (o) => core.gradientDescent().solve(problem, theta, data, o),
  'core.accelerated': (o) => core.accelerated(o),
  'core.accelerated.backtracking': (o) => core.accelerated({ backtracking: o }),
  'core.lbfgs': (o) => core.lbfgs(o),
  'core.lbfgs.lineSearch': (o) => core.lbfgs({ lineSearch: o }),
  'core.lbfgs.solve': (o) => core.lbfgs().solve(problem, theta, data, o),
  // core: fixed-point solvers (equilibrium re-exports them) and their per-call options
  'core.picard': (o) => core.picard(o),
  'core.picard.solve': (o) => core.picard().solve((z: tf.Tensor) => tf.mul(z, 0.5), x, o),
  'core.anderson': (o) => core.anderson(o),
  'core.broyden': (o) => core.broyden(o),
  // core: the shared iteration loop
  'core.iterate': (o) => core.iterate({ init: () => ({}), step: (s: object) => s, residual: () => 0 } as never, { threshold: 1, maxIter: 1, ...o } as never),
  // core: linear solvers and their per-call options
  'core.cg': (o) => core.cg(o),
  'core.cg.solve': (o) => core.cg().solve((v) => v.clone(), x, o),
  'core.gmres': (o) => core.gmres(o),
  'core.richardson': (o) => core.richardson({ step: 1, ...o }),
  'core.neumann': (o) => core.neumann({ step: 1, ...o }),
  // core: spectrum, gradient checks, problems, backend
  'core.powerIteration': (o) => core.powerIteration((v) => v.clone(), x, o),
  'core.lanczos': (o) => core.lanczos((v) => v.clone(), x, o),
  'core.estimateLipschitz': (o) => core.estimateLipschitz(problem, x, theta, data, o),
  'core.estimateStrongConvexity': (o) => core.estimateStrongConvexity(problem, x, theta, data, o),
  'core.checkGradient': (o) => core.checkGradient((z) => tf.sum(z), x, o),
  'core.checkParamsGradient': (o) => core.checkParamsGradient((p) => tf.sum(p.a), theta, o),
  'core.defineProblem': (o) => core.defineProblem({ energy, ...o }),
  'core.defineFixedPoint': (o) => core.defineFixedPoint({ map: (z: tf.Tensor) => z.clone(), ...o }),
  'core.defineSaddle': (o) => core.defineSaddle({ apply: (z: tf.Tensor) => z.clone(), proxG: (z: tf.Tensor) => z.clone(), proxFStar: (z: tf.Tensor) => z.clone(), init: () => tf.zeros([2]), ...o }),
  'core.initBackend': (o) => core.initBackend({ log: false, ...o }),
  // core: hypergradient, argmin and the strategy driver
  'core.hypergradient': (o) => core.hypergradient({ problem, theta, data, loss, strategy, ...o }),
  'core.argmin': (o) => core.argmin(problem, strategy, o),
  // its mode ('warn' | 'error' | 'tighten' | policy) is validated by checkOnNotConverged; its options object here
  'core.convergencePolicy': (o) => core.convergencePolicy('warn', '', o),
  'core.defineStrategy': (o) => core.defineStrategy({ name: 's', forward: core.innerForward(core.lbfgs()), rule: implicitPkg.implicitAdjoint(core.cg()), options: {}, ...o }),
  // core: pooled hypergradients (the pool is not run: options are checked first)
  'core.pooledHypergradient': (o) => core.pooledHypergradient({ kind: 'sample-pool', run: notCalled, samples: 4 } as never, { theta, samples: [0], ...o }),
  'core.definePoolTask': (o) => core.definePoolTask({ problem, strategy, loss, samples: 1, sample: () => data, ...o }),
  'pool.workerPool': (o) => poolPkg.workerPool({ module: '/nonexistent/task.js', ...o }),
  'distributed.distributedPool': (o) => distributedPkg.distributedPool({ connection: 'redis://127.0.0.1:1', samples: 1, ...o }),
  'distributed.startWorker': (o) => distributedPkg.startWorker({ connection: 'redis://127.0.0.1:1', module: '/nonexistent/task.js', ...o }),
  // strategies
  'implicit.implicit': (o) => implicitPkg.implicit({ inner: core.lbfgs(), linear: core.cg(), ...o }),
  'implicit.implicit.constants': (o) => implicitPkg.implicit({ inner: core.lbfgs(), linear: core.cg(), constants: o }),
  'implicit.implicitAdjoint': (o) => implicitPkg.implicitAdjoint(core.cg(), o),
  'implicit.adjointErrorBound': (o) => implicitPkg.adjointErrorBound({ mu: 1, lossLipschitz: 1, mixedNorm: 1, ...o }, 0, 0, 0),
  'implicit.hypergradientBound': (o) => implicitPkg.hypergradientBound({ mu: 1, lossLipschitz: 1, mixedNorm: 1 }, { eps: 0, delta: 0, adjointNorm: 0, ...o }),
  'implicit.hypergradientBound.constants': (o) => implicitPkg.hypergradientBound({ mu: 1, lossLipschitz: 1, mixedNorm: 1, ...o }, { eps: 0, delta: 0, adjointNorm: 0 }),
  'implicit.implicitErrorBound': (o) => implicitPkg.implicitErrorBound({ epsilon: 0, delta: 0, mu: 1, adjointNorm: 0, lossGradNorm: 0, constants: {}, ...o }),
  'implicit.implicitErrorBound.constants': (o) => implicitPkg.implicitErrorBound({ epsilon: 0, delta: 0, mu: 1, adjointNorm: 0, lossGradNorm: 0, constants: o }),
  'unrolled.unrolled': (o) => unrolledPkg.unrolled(o),
  'equilibrium.equilibrium': (o) => equilibriumPkg.equilibrium(o),
  'equilibrium.picard': (o) => equilibriumPkg.picard(o),
  'equilibrium.picard.solve': (o) => equilibriumPkg.picard().solve((z: tf.Tensor) => tf.mul(z, 0.5), x, o),
  'equilibrium.anderson': (o) => equilibriumPkg.anderson(o),
  'equilibrium.broyden': (o) => equilibriumPkg.broyden(o),
  'equilibrium.neumannSeries': (o) => equilibriumPkg.neumannSeries(o),
  'jfb.jacobianFree': (o) => jfbPkg.jacobianFree(o),
  'piggyback.piggyback': (o) => piggybackPkg.piggyback(o),
  // outer
  'outer.maid': (o) => outerPkg.maid(o),
  'outer.hoag': (o) => outerPkg.hoag(o as never),
  'outer.dfo': (o) => outerPkg.dfo(o),
  'outer.sgd': (o) => outerPkg.sgd({ size: 4, batchSize: 2, ...o } as never),
  'outer.adam': (o) => outerPkg.adam({ size: 4, batchSize: 2, ...o } as never),
  'outer.oracleFromStrategy': (o) => outerPkg.oracleFromStrategy({ problem, data, loss, strategy, ...o }),
  'outer.estimateBoundConstants': (o) => outerPkg.estimateBoundConstants(problem, theta, data, { lossLipschitz: 1, ...o }),
  'outer.train': (o) => outerPkg.train({ method: outerPkg.maid(), oracle: notCalled as never, theta0: theta, budget: { iterations: 1 }, ...o }),
  'outer.train.budget': (o) => outerPkg.train({ method: outerPkg.maid(), oracle: notCalled as never, theta0: theta, budget: { iterations: 1, ...o } }),
  'outer.train.resume': (o) => outerPkg.train({ method: outerPkg.maid(), oracle: notCalled as never, theta0: theta, budget: { iterations: 1 }, checkpoint: { store: outerPkg.memoryStore() }, resume: { ...o } }),
  'outer.train.checkpoint': (o) => outerPkg.train({ method: outerPkg.maid(), oracle: notCalled as never, theta0: theta, budget: { iterations: 1 }, checkpoint: { store: outerPkg.memoryStore(), ...o } }),
  'outer.startTraining': (o) => outerPkg.startTraining({ postMessage: () => {}, on: () => {} }, {}, o),
  'outer.trainSteps': (o) => outerPkg.trainSteps({ method: outerPkg.maid(), oracle: notCalled as never, theta0: theta, budget: { iterations: 1 }, ...o }).next(),
  'outer.box': (o) => outerPkg.box({ lower: 0, ...o }),
  'outer.box.leaf': (o) => outerPkg.box({ a: { lower: 0, ...o } }),
  // imaging
  'imaging.blur': (o) => imagingPkg.blur(o),
  'imaging.subsampledFourier': (o) => imagingPkg.subsampledFourier(mask, o),
  'imaging.fft2': (o) => imagingPkg.fft2(image, o),
  'imaging.ifft2': (o) => imagingPkg.ifft2(image, o),
  'imaging.cartesianMask': (o) => imagingPkg.cartesianMask({ height: 8, width: 8, ...o }),
  'imaging.smoothedTV': (o) => imagingPkg.smoothedTV(o),
  'imaging.huberTV': (o) => imagingPkg.huberTV(o),
  'imaging.tgv': (o) => imagingPkg.tgv(o),
  'imaging.tgvProblem': (o) => imagingPkg.tgvProblem(o),
  'imaging.samplingProblem': (o) => imagingPkg.samplingProblem({ height: 4, width: 4, ...o }),
  'imaging.samplingPenalty': (o) => imagingPkg.samplingPenalty({ sampling: x }, o),
  'imaging.variableDensityMask': (o) => imagingPkg.variableDensityMask({ height: 4, width: 4, rate: 0.5, ...o }),
  'imaging.lowFrequencyMask': (o) => imagingPkg.lowFrequencyMask({ height: 4, width: 4, rate: 0.5, ...o }),
  'imaging.radialMask': (o) => imagingPkg.radialMask({ height: 4, width: 4, rate: 0.5, ...o }),
  'imaging.mrPhantoms': (o) => imagingPkg.mrPhantoms({ count: 1, size: 4, ...o }),
  'imaging.randomFilters': (o) => imagingPkg.randomFilters(o),
  'imaging.icnn': (o) => imagingPkg.icnn(o),
  'imaging.fieldsOfExperts': (o) => imagingPkg.fieldsOfExperts(o),
  'imaging.filterPenalty': (o) => imagingPkg.filterPenalty(o),
  'imaging.denoisingDataset': (o) => imagingPkg.denoisingDataset({ images: [image], ...o }),
  'imaging.encodePng': (o) => imagingPkg.encodePng(image, o),
  'imaging.radon': (o) => imagingPkg.radon(8, o),
  'imaging.ctPhantoms': (o) => imagingPkg.ctPhantoms({ size: 8, count: 1, testCount: 1, ...o }),
  'imaging.decodePng': (o) => imagingPkg.decodePng(new Uint8Array(8), o),
  'imaging.imageFromPng': (o) => imagingPkg.imageFromPng(new Uint8Array(8), o),
  'imagingNode.loadImage': (o) => imagingNode.loadImage('/nonexistent/x.png', o),
  'imagingNode.saveImage': (o) => imagingNode.saveImage('/nonexistent/x.png', image, o),
  'imagingNode.denoisingDataset': (o) => imagingNode.denoisingDataset({ images: [image], ...o }),
  'imaging.ssim': (o) => imagingPkg.ssim(image, image, o),
  'imaging.reconstructionProblem': (o) => imagingPkg.reconstructionProblem(imagingPkg.tikhonov(1), o),
  'imaging.tvDenoisingProblem': (o) => imagingPkg.tvDenoisingProblem(o),
  'imaging.filterModelProblem': (o) => imagingPkg.filterModelProblem(o),
  'imaging.foeProblem': (o) => imagingPkg.foeProblem(o),
  'imaging.icnnProblem': (o) => imagingPkg.icnnProblem(o),
  'imaging.convexNetwork': (o) => imagingPkg.convexNetwork(o),
  'imaging.learnedPrimalDual': (o) => imagingPkg.learnedPrimalDual({ name: 'I', inShape: [4, 4, 1], apply: (t: tf.Tensor) => t.clone(), adjoint: (t: tf.Tensor) => t.clone(), dispose: () => {} }, o),
  'imaging.adversarialLoss': (o) => imagingPkg.adversarialLoss(imagingPkg.tikhonov(1), {}, image, image, o),
  'imaging.scaledOperator': (o) => imagingPkg.scaledOperator(imagingPkg.identity(), 2, o),
  'imaging.convexNetworkSaddle': (o) => imagingPkg.convexNetworkSaddle({
    operator: { name: 'I', inShape: [4, 4, 1], normBound: 1, apply: (t: tf.Tensor) => t.clone(), adjoint: (t: tf.Tensor) => t.clone(), dispose: () => {} }, ...o,
  }),
};

/** Exported functions that take no options object, with the reason. */
const POSITIONAL = 'positional arguments only, no options object';
const NO_OPTIONS: Record<string, string> = {
  'core.luFactor': 'dense float64 helper: a matrix and a pivot tolerance, positional',
  'core.checkStrongConvexity': 'certificate check: positional problem, point, θ, data, μ, steps',
  'core.wasmHeapModule': 'kernel authoring: base64 module bytes and a bind function, positional',
  'pool.summarizeTiming': 'timing summary: one RunTiming in, its figures out, positional',
  'core.base64Bytes': 'kernel authoring: one string in, bytes out',
  ...Object.fromEntries(
    ['addParams', 'assertSameStructure', 'axpyParams', 'cloneParams', 'disposeParams', 'dotParams', 'finiteParams', 'flattenParams', 'keepParams', 'keysOf', 'mapParams',
      'normParams', 'paramsFromArrays', 'paramsToArrays', 'scaleParams', 'sizeOfParams', 'subParams', 'unflattenParams', 'zerosLikeParams', 'zipParams']
      .map((k) => [`core.${k}`, 'Params tree helper: tensors in, tensors out']),
  ),
  ...Object.fromEntries(['grad', 'hvp', 'jvp', 'mixedProduct', 'valueAndGrad', 'valueAndGradParams', 'vjp', 'withIsolatedTape', 'withoutTape'].map((k) => [`core.${k}`, 'autodiff primitive: functions and tensors'])),
  ...Object.fromEntries(['checkFinite', 'checkNonNegative', 'checkPositiveInt', 'checkShape', 'readScalar', 'checkOnNotConverged',
    'requireBackend', 'checkTheta', 'checkData', 'checkStart', 'checkScalarOutput', 'callUser', 'withAllocationHint', 'checkRequest', 'guardLoss'].map((k) => [`core.${k}`, 'validation helper: checks one value'])),
  ...Object.fromEntries(['checkOptions', 'defineOptions', 'optionsOf', 'registerOptions', 'resetOptionWarnings', 'explicitOptions', 'recordExplicit', 'resolveAccuracy'].map((k) => [`core.${k}`, 'the option mechanism itself'])),
  ...Object.fromEntries(['addWork', 'emptyWork', 'workUnits'].map((k) => [`core.${k}`, 'work counters'])),
  'core.normNumber': 'reads one tensor\'s norm to a number',
  'core.dotFloat32': 'reads one inner product to a number (the op form\'s float32 bits)',
  ...Object.fromEntries(['formatNumber', 'isOk', 'statusEntry', 'statusMessage', 'isUnconverged', 'notConvergedMessage'].map((k) => [`core.${k}`, 'status table: a code and the context a solver fills, not user options'])),
  'core.convergenceReport': 'no arguments',
  'core.resetConvergenceWarnings': 'no arguments',
  'core.hypergradientWithPolicy': "the driver entry behind hypergradient/argmin/outer's oracle; its request is the validated hypergradient options",
  'core.innerForward': 'wraps one inner solver (validated by the solver factory)',
  'core.explicitStopping': 'reads the options a solver factory recorded',
  'core.fixedPointForward': 'wraps one fixed-point solver (validated by the solver factory) and a step size',
  'core.splitLoss': POSITIONAL,
  'core.fixedPointMapOf': POSITIONAL,
  'core.gradientStepSize': POSITIONAL,
  'core.seededNormal': POSITIONAL,
  'core.seededUnit': POSITIONAL,
  'core.seededUnitParams': POSITIONAL,
  'core.registerArgminProblem': POSITIONAL,
  'core.WarmSlot': 'class with no constructor arguments',
  'core.slotsWarmState': 'takes a record of WarmSlots, no options',
  'core.loadSlotsWarmState': 'positional (where, slots, state), no options',
  'core.checkWarmTensor': 'positional (where, slot, value), no options',
  'core.isSamplePool': 'type guard: one value',
  'core.taskFromModule': 'positional: a module namespace, setup data, its name',
  'core.sampleRunner': 'wraps one task (validated by definePoolTask)',
  'core.inlinePool': 'wraps one task (validated by definePoolTask)',
  'core.reduceSamples': "positional: outcomes and 'mean' | 'sum'",
  ...Object.fromEntries(['paramsFromPlain', 'paramsToPlain', 'warmStateToJson', 'warmStateFromJson', 'packWarm', 'unpackWarm', 'sameLayout'].map((k) => [`core.${k}`, 'conversion helper: one value'])),
  'core.valueWithPolicy': "the value-only twin of hypergradientWithPolicy; its request is the validated hypergradient options",
  'core.disposeReplaced': 'tensor-lifetime helper: two states',
  'core.ArgminLayer': 'tf.layers.Layer subclass: its args are also tfjs LayerArgs (name, trainable, inputShape, …), checked by tfjs',
  'implicit.distanceBound': POSITIONAL,
  'implicit.valueBound': POSITIONAL,
  ...Object.fromEntries(['saddleHypergradientBound', 'theorem2Bound'].map((k) => [`piggyback.${k}`, 'bound formula: two records of numbers named by the paper, not options'])),
  ...Object.fromEntries(['estimatedSaddleBound'].map((k) => [`piggyback.${k}`, 'estimate formula: two records of numbers, not options'])),
  'piggyback.contractionEstimate': 'a pure function of a list of step norms, a window length and a round-off floor',
  'piggyback.stepFloor': 'a pure function of one number (an iterate norm)',
  ...Object.fromEntries(['fbp', 'rampFilterMatrix', 'randomEllipses', 'rasteriseEllipses', 'convolutionAbsoluteSums', 'gradientAbsoluteSums'].map((k) => [`imaging.${k}`, POSITIONAL])),
  'outer.adjointErrorBound': "re-export of implicit's (covered there)",
  'outer.hypergradientBound': "re-export of implicit's (covered there)",
  'outer.distanceBound': POSITIONAL,
  'outer.valueBound': POSITIONAL,
  ...Object.fromEntries(['constant', 'geometric', 'quadratic', 'cubic'].map((k) => [`outer.${k}`, 'accuracy schedule: numbers'])),
  ...Object.fromEntries(['l1', 'l2', 'projection', 'composeProximal', 'proximalOf', 'withRegularizer', 'reparameterise', 'expParameterisation'].map((k) => [`outer.${k}`, 'transform: a weight, a function, or objects built by other factories'])),
  ...Object.fromEntries(['mulberry32', 'permutation', 'loadCheckpoint', 'serveTraining'].map((k) => [`outer.${k}`, POSITIONAL])),
  'outer.memoryStore': 'no arguments',
  ...Object.fromEntries(['readCheckpoint', 'writeFileAtomic', 'fileStore', 'fileCheckpoint'].map((k) => [`outerNode.${k}`, POSITIONAL])),
  ...Object.fromEntries(['sampleImages'].map((k) => [`imagingNode.${k}`, POSITIONAL])),
  ...Object.fromEntries(['imageFromPixels', 'sampleImageUrl', 'fetchSampleImage'].map((k) => [`imaging.${k}`, POSITIONAL])),
  ...Object.fromEntries(
    ['addNoise', 'boxKernel', 'centerCrop', 'convolution', 'dctFilters', 'dftMatrices', 'differenceFilters', 'divergence', 'extractPatches', 'finiteDifference',
      'gaussianKernel', 'gradient2d', 'icnnZWeights', 'identity', 'inpainting', 'leastSquares', 'lowFrequencyDctFilters', 'motionKernel', 'psnr', 'randomCrops', 'randomMask',
      'sumRegularizers', 'tikhonov', 'trainTestSplit', 'tgvImage', 'symmetricGradient', 'binariseSampling',
      'smoothedRelu', 'smoothedReluDerivative', 'smoothedReluSecond', 'smoothedReluConjugate', 'proxSmoothedReluConjugate', 'projectEpigraph', 'proxEpigraphConjugate']
      .map((k) => [`imaging.${k}`, POSITIONAL]),
  ),
};

// @bilevel/cli: runCli and progressReporter take options; the rest take positional arguments.
CASES['cli.runCli'] = (o) => cliPkg.runCli(['--version'], o);
CASES['cli.progressReporter'] = (o) => cliPkg.progressReporter(1, 'test', { quiet: true, ...o });
Object.assign(NO_OPTIONS, Object.fromEntries(
  ['parseArgv', 'parseFlags', 'flagsHelp', 'suggest', 'plotLossVersusWork', 'plotTraining', 'renderVegaLite', 'outputFolder', 'writeJson', 'markdownTable', 'inFolder', 'filterMosaic',
    'handleProcessErrors', 'describeError', 'configJsonSchema', 'loadConfig', 'validateConfig', 'parseConfigText']
    .map((k) => [`cli.${k}`, 'command-line plumbing: positional arguments (flag specs, paths, configs), no options object']),
));
NO_OPTIONS['cli.UsageError'] = 'error class: a message';
NO_OPTIONS['cli.FailureError'] = 'error class: a message';

const BOGUS = 'zzNotAnOption';

/** Cases whose errors are named after another function (trainSteps is train's generator). */
const WHERE: Record<string, string> = { 'outer.trainSteps': 'train' };

async function errorOf(call: Call, o: Options): Promise<Error | undefined> {
  try {
    await call(o);
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

/** The option names the error lists ("… The options are a, b, c."), with their nested prefix. */
function listedOptions(message: string): string[] {
  const m = /; (?:did you mean '[^']*'\? )?the options are (.*)\.$/i.exec(message);
  return m == null ? [] : m[1].split(', ');
}

const misspell = (key: string) => key + key[key.length - 1];

beforeAll(async () => {
  await core.initBackend({ backend: 'cpu', log: false });
  x = tf.zeros([2]);
  theta = { a: tf.ones([2]) };
  image = tf.zeros([1, 16, 16, 1]);
  mask = tf.ones([8, 8]);
  problem = core.defineProblem({ energy, init: () => tf.zeros([2]), strongConvexity: 1, smoothness: 1 });
  strategy = implicitPkg.implicit({ inner: core.lbfgs(), linear: core.cg() });
});

afterAll(() => {
  tf.dispose([x, image, mask]);
  core.disposeParams(theta);
  (strategy as { dispose?: () => void }).dispose?.();
});

describe('one option mechanism everywhere', () => {
  it('every exported function is either a case or listed with the reason it takes no options', () => {
    const missing: string[] = [];
    for (const [pkg, exports] of Object.entries(PACKAGES)) {
      for (const [name, value] of Object.entries(exports)) {
        if (typeof value !== 'function') continue;
        const key = `${pkg}.${name}`;
        if (!(key in CASES) && !(key in NO_OPTIONS)) missing.push(key);
      }
    }
    expect(missing, `exports with no case in options-everywhere.test.ts: add a case (or a reason in NO_OPTIONS)`).toEqual([]);
    for (const key of [...Object.keys(CASES), ...Object.keys(NO_OPTIONS)]) {
      const [pkg, name] = key.split('.');
      expect(typeof PACKAGES[pkg]?.[name], `${key} is in the table but not exported`).toBe('function');
    }
  });

  for (const [key, call] of Object.entries(CASES)) {
    it(`${key}: an unknown key is rejected with the nearest valid key`, async () => {
      const before = tf.memory().numTensors;
      const where = WHERE[key] ?? key.split('.')[1];
      const err = await errorOf(call, { [BOGUS]: 1 });
      expect(err, `${key} accepted an unknown option`).toBeInstanceOf(Error);
      const prefix = new RegExp(`^${where}[\\w.]*: unknown option '([\\w.]*)${BOGUS}'`);
      expect(err!.message).toMatch(prefix);
      const nested = prefix.exec(err!.message)![1];
      const names = listedOptions(err!.message);
      if (process.env.LIST_OPTIONS) console.log(`OPTS ${key}: ${names.join(" ")}`);
      expect(names.length, `${key}: the error lists the options`).toBeGreaterThan(0);
      let checked = 0;
      for (const full of names) {
        expect(full.startsWith(nested), `${key}: '${full}' carries the path '${nested}'`).toBe(true);
        const name = full.slice(nested.length);
        if (name.length < 2) continue; // one letter (e.g. 'c'): no edit of it is plausibly meant
        const wrong = misspell(name);
        const e = await errorOf(call, { [wrong]: 1 });
        expect(e, `${key}: '${wrong}' was accepted`).toBeInstanceOf(Error);
        const m = new RegExp(`unknown option '${nested.replace(/\./g, '\\.')}${wrong}'; did you mean '${nested.replace(/\./g, '\\.')}([\\w]+)'\\?`).exec(e!.message);
        expect(m, `${key}: '${wrong}' → ${e!.message}`).not.toBeNull();
        const suggested = m![1];
        expect(editDistance(wrong, suggested), `${key}: '${suggested}' is not the nearest to '${wrong}'`).toBeLessThanOrEqual(editDistance(wrong, name));
        checked++;
      }
      expect(checked).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
