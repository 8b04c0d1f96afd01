/**
 * `@bilevel/imaging`: forward operators, regularizers and problem builders, image data and
 * metrics for bilevel learning of variational image-reconstruction models.
 *
 * Conventions: images are NHWC float32 tensors `[batch, height, width, 1]` with values in
 * [0, 1]; complex data are real pairs in a trailing axis of size 2; every energy and
 * regularizer value is summed over the batch.
 *
 * @packageDocumentation
 */

// Linear operators
export type { LinearOperator } from './operators/types.js';
export { identity } from './operators/identity.js';
export { scaledOperator } from './operators/scaled.js';
export type { ScaledOperatorOptions } from './operators/scaled.js';
export { gaussianKernel, boxKernel, motionKernel } from './operators/kernels.js';
export { convolution, blur, BLUR_DEFAULTS } from './operators/convolution.js';
export type { BlurOptions } from './operators/convolution.js';
export { gradient2d, divergence, finiteDifference } from './operators/finite-difference.js';
export { dftMatrices, fft2, ifft2, subsampledFourier, SUBSAMPLED_FOURIER_DEFAULTS, FOURIER_DEFAULTS } from './operators/fourier.js';
export type { SubsampledFourierOptions, FourierOptions } from './operators/fourier.js';
export type { FourierTransform } from './operators/fft.js';
export { inpainting } from './operators/inpainting.js';
export { radon, RADON_DEFAULTS } from './operators/radon.js';
export { convolutionAbsoluteSums, gradientAbsoluteSums } from './operators/absolute-sums.js';
export type { AbsoluteSums } from './operators/absolute-sums.js';
export type { RadonOptions, RadonOperator } from './operators/radon.js';
export { fbp, rampFilterMatrix } from './operators/fbp.js';
export { cartesianMask, randomMask, CARTESIAN_MASK_DEFAULTS } from './operators/masks.js';
export type { CartesianMaskOptions } from './operators/masks.js';
export { variableDensityMask, lowFrequencyMask, radialMask, binariseSampling, RATE_MASK_DEFAULTS } from './operators/sampling-masks.js';
export type { RateMaskOptions } from './operators/sampling-masks.js';

// Data terms, regularizers, problems
export type { Regularizer } from './regularizers/types.js';
export { smoothedTV, huberTV, TV_DEFAULTS } from './regularizers/tv.js';
export type { TVOptions } from './regularizers/tv.js';
export { tgv, tgvImage, symmetricGradient, TGV_DEFAULTS } from './regularizers/tgv.js';
export type { TGVOptions } from './regularizers/tgv.js';
export { tikhonov, sumRegularizers } from './regularizers/tikhonov.js';
export { randomFilters, dctFilters, lowFrequencyDctFilters, differenceFilters, RANDOM_FILTERS_DEFAULTS } from './regularizers/filters.js';
export type { RandomFiltersOptions } from './regularizers/filters.js';
export { filterPenalty, FILTER_PENALTY_DEFAULTS } from './regularizers/filter-model.js';
export type { FilterPenaltyOptions } from './regularizers/filter-model.js';
export { fieldsOfExperts, FIELDS_OF_EXPERTS_DEFAULTS } from './regularizers/foe.js';
export type { FieldsOfExpertsOptions } from './regularizers/foe.js';
export { icnn, icnnZWeights, ICNN_DEFAULTS } from './regularizers/icnn.js';
export type { IcnnOptions } from './regularizers/icnn.js';
export { convexNetwork, CONVEX_NETWORK_DEFAULTS } from './regularizers/convex-network.js';
export type { ConvexNetworkOptions } from './regularizers/convex-network.js';
export {
  smoothedRelu, smoothedReluDerivative, smoothedReluSecond, smoothedReluConjugate, proxSmoothedReluConjugate, projectEpigraph, proxEpigraphConjugate,
} from './regularizers/smoothed-relu.js';
export { convexNetworkSaddle, CONVEX_NETWORK_SADDLE_DEFAULTS, ICNN_MAID_OPTIONS } from './convex-network-saddle.js';
export type { ConvexNetworkSaddle, ConvexNetworkSaddleOptions, ConvexNetworkSaddleData } from './convex-network-saddle.js';
// Learned reconstruction networks and losses (the ACR and LPD baselines of sparse-view CT)
export { adversarialLoss, ADVERSARIAL_LOSS_DEFAULTS } from './networks/adversarial-loss.js';
export type { AdversarialLossOptions, AdversarialLossResult } from './networks/adversarial-loss.js';
export { learnedPrimalDual, LEARNED_PRIMAL_DUAL_DEFAULTS } from './networks/learned-primal-dual.js';
export type { LearnedPrimalDual, LearnedPrimalDualOptions } from './networks/learned-primal-dual.js';
export { leastSquares } from './data-terms.js';
export type { DataTerm } from './data-terms.js';
export {
  reconstructionProblem, tvDenoisingProblem, filterModelProblem, foeProblem, icnnProblem,
  TV_PROBLEM_DEFAULTS, ICNN_PROBLEM_DEFAULTS,
} from './problems.js';
export type { ReconstructionData, ReconstructionProblem, ReconstructionOptions, TVProblemOptions } from './problems.js';
export { tgvProblem } from './tgv-problem.js';
export type { TGVProblemOptions } from './tgv-problem.js';
export { samplingProblem, samplingPenalty, SAMPLING_PROBLEM_DEFAULTS } from './sampling.js';
export type { SamplingProblem, SamplingProblemOptions, SamplingData, SamplingPenaltyOptions } from './sampling.js';

// Data
// (PNG files on disk and sample paths: '@bilevel/imaging/node')
export { decodePng, imageFromPng, encodePng, SAVE_IMAGE_DEFAULTS, PNG_DECODE_DEFAULTS } from './data/png.js';
export type { SavePngOptions, GrayImage, DecodePngOptions } from './data/png.js';
export { imageFromPixels, LUMINANCE_WEIGHTS } from './data/pixels.js';
export type { PixelsLike } from './data/pixels.js';
export { SAMPLE_IMAGE_NAMES, sampleImageUrl, fetchSampleImage } from './data/samples.js';
export type { SampleImageName } from './data/samples.js';
export { centerCrop, randomCrops, extractPatches } from './data/crops.js';
export { addNoise } from './data/noise.js';
export { trainTestSplit } from './data/split.js';
export { ctPhantoms, randomEllipses, rasteriseEllipses, SHEPP_LOGAN, CT_PHANTOM_DEFAULTS } from './data/phantoms.js';
export type { Ellipse, CtPhantomOptions } from './data/phantoms.js';
export { mrPhantoms, MR_PHANTOM_DEFAULTS } from './data/mr-phantoms.js';
export type { MrPhantomOptions } from './data/mr-phantoms.js';
export { denoisingDataset, DENOISING_DATASET_DEFAULTS } from './data/dataset.js';
export type { DenoisingDatasetOptions, DenoisingDataset, DenoisingBatch } from './data/dataset.js';

// Metrics
export { psnr, ssim, SSIM_DEFAULTS } from './metrics.js';
export type { MetricResult, SsimOptions } from './metrics.js';
