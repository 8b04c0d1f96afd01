// One run per strategy object at a time: a strategy keeps warm starts (the driver's x̂, the
// implicit adjoint's q, piggyback's primal–dual pair) from call to call, so two train() runs
// interleaving on one object would start each other's solves from the other run's points,
// so neither run is reproducible. The second run is refused with the fix instead.
const inUse = new WeakMap<object, { started: string }>();

/** Claims `strategy` for one run; returns the release. Throws when another unfinished run holds it. */
export function claimStrategy(where: string, strategy: unknown): () => void {
  if (strategy == null || typeof strategy !== 'object') return () => {};
  const held = inUse.get(strategy);
  if (held != null) {
    const name = (strategy as { name?: string }).name ?? 'strategy';
    throw new Error(
      `${where}: strategy '${name}' is already used by another train() run that has not finished (started ${held.started}); ` +
        'its warm starts (x̂, the adjoint q) would mix the two runs. Give each concurrent run its own strategy object (call the factory again, e.g. implicit({ ... })), or await the first run.',
    );
  }
  const claim = { started: new Date().toISOString() };
  inUse.set(strategy, claim);
  return () => {
    if (inUse.get(strategy) === claim) inUse.delete(strategy);
  };
}
