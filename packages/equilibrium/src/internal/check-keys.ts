import { checkOptions, opt } from '@bilevel/core';

/** Throws on option keys the factory does not know, naming the nearest valid one (core's option mechanism). */
export function checkKeys(where: string, options: object, known: string[]): void {
  checkOptions(where, options, Object.fromEntries(known.map((k) => [k, opt.any()])));
}
