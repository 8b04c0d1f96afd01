/**
 * The one TensorFlow.js instance every bilevel package uses.
 *
 * Importing tfjs through `@tensorflow/tfjs` (not `tfjs-core`) registers all gradients and
 * chained ops. Importing this module also re-registers bilevel's second-order-safe
 * gradients and the wasm kernel replacements, so that any code path that reaches `tf`
 * through bilevel gets correct Hessian-vector products.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerSecondOrderGradients } from './internal/gradients.js';
import { registerWasmKernels } from './internal/wasm-kernels.js';

registerSecondOrderGradients();
registerWasmKernels();

export { tf };
export type Tensor = tf.Tensor;
export type Scalar = tf.Scalar;
