/** Throws on option keys the factory does not know. */
export function checkKeys(where: string, options: object, known: string[]): void {
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be an object.`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new Error(`${where}: unknown option '${key}'; the options are ${known.join(', ')}.`);
  }
}
