// Typed consumer code (CommonJS): the require condition's declarations (dist/cjs/*.d.ts).
import core = require('@bilevel/core');
import implicitPackage = require('@bilevel/implicit');

export function strategy(): core.Strategy {
  return implicitPackage.implicit({ inner: core.lbfgs(), linear: core.cg() });
}
