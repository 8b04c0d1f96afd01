/**
 * `@bilevel/jfb`: Jacobian-free backpropagation (Fung et al.): differentiate k steps of the
 * fixed-point map from the (stop-gradient) solution instead of solving the adjoint system.
 *
 * @packageDocumentation
 */
export { jacobianFree, DEFAULT_JFB_OPTIONS } from './jfb.js';
export type { JacobianFreeOptions, JacobianFreeStrategy } from './jfb.js';
