export type { LinearOperator } from './operators/types.js';
export { identity } from './operators/identity.js';
export { gaussianKernel, boxKernel, motionKernel } from './operators/kernels.js';
export { convolution, blur, BLUR_DEFAULTS } from './operators/convolution.js';
export type { BlurOptions } from './operators/convolution.js';
export { gradient2d, divergence, finiteDifference } from './operators/finite-difference.js';
export { dftMatrices, fft2, ifft2, subsampledFourier, SUBSAMPLED_FOURIER_DEFAULTS } from './operators/fourier.js';
export type { SubsampledFourierOptions } from './operators/fourier.js';
export { inpainting } from './operators/inpainting.js';
