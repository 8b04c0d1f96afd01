/**
 * The smoothing of each learned row's lower level, set per row by two flags: `--mu` (μ_g, the strong
 * convexity of g = (μ/2)‖x − x₀‖², the paper's μg) and `--epsilon` (the Huber ε: of TV-MAID's TV dual, and of
 * the 8-direction Huber-TV that the FoE / ICNN 'tv' start imitates). Both must be > 0 so that the piggyback
 * bound (Bogensperger, Ehrhardt, Pock, Salehi & Wong, Theorem 2) is defined. A flag's value is a list of
 * `row=value` pairs with the rows named as in `--methods`; rows it leaves out keep {@link ROW_SMOOTHING}'s
 * values, so `--mu icnn=0.01` changes the ICNN alone. main.ts and every script under `scripts/` read them the same
 * way ({@link smoothingRows}); a script's model takes its row's values ({@link modelRow}: TV → `tv-maid`).
 */

/** The rows with a smoothed lower level, as `--methods` names them. */
export const SMOOTHED_ROWS = ['tv-maid', 'foe', 'icnn'] as const;
export type SmoothedRow = (typeof SMOOTHED_ROWS)[number];

/** μ and ε of one row. */
export interface RowSmoothing { mu: number; epsilon: number }

/**
 * The defaults (README, "Smaller μ and ε" and "ICNN at the FoE's μ and ε"): TV-MAID at μ 1e-3, ε 2e-5 (0.04 dB
 * from plain TV), the FoE at μ 1e-3, ε 1e-4 (its PDHG slows with both), the ICNN at the FoE's (held out 29.11 dB
 * against 28.10 at the earlier μ 0.01, ε 2e-4; its 'tv' start is then the FoE's start).
 */
export const ROW_SMOOTHING: Readonly<Record<SmoothedRow, Readonly<RowSmoothing>>> = {
  'tv-maid': { mu: 0.001, epsilon: 0.00002 },
  foe: { mu: 0.001, epsilon: 0.0001 },
  icnn: { mu: 0.001, epsilon: 0.0001 },
};

const table = (key: keyof RowSmoothing) => SMOOTHED_ROWS.map((r) => `${r}=${ROW_SMOOTHING[r][key]}`).join(',');

/** The `--mu` / `--epsilon` flags with their defaults (merged into main.ts's). */
export const SMOOTHING_FLAGS = { mu: table('mu'), epsilon: table('epsilon') };

/**
 * Reads one `--mu` or `--epsilon` value: `row=value` pairs separated by commas, over {@link ROW_SMOOTHING}.
 *
 * @param flag - 'mu' or 'epsilon' (for the messages).
 * @param value - the flag's text, e.g. `icnn=0.01` or `tv-maid=1e-3,foe=1e-3`.
 * @returns the value of every row.
 * @example
 * ```ts
 * parseRowValues('mu', 'icnn=0.01'); // { 'tv-maid': 0.001, foe: 0.001, icnn: 0.01 }
 * ```
 */
export function parseRowValues(flag: keyof RowSmoothing, value: string): Record<SmoothedRow, number> {
  const out = Object.fromEntries(SMOOTHED_ROWS.map((r) => [r, ROW_SMOOTHING[r][flag]])) as Record<SmoothedRow, number>;
  const example = `e.g. --${flag} icnn=${ROW_SMOOTHING.icnn[flag]} (default ${SMOOTHING_FLAGS[flag]})`;
  const seen = new Set<string>();
  for (const pair of value.split(',').map((p) => p.trim())) {
    const at = pair.indexOf('=');
    if (at < 0) throw new Error(`ct-sparse-view: --${flag} takes row=value pairs for the rows ${SMOOTHED_ROWS.join(', ')}, ${example}; got '${pair}'.`);
    const row = pair.slice(0, at).trim();
    const text = pair.slice(at + 1).trim();
    if (!(SMOOTHED_ROWS as readonly string[]).includes(row)) {
      throw new Error(`ct-sparse-view: --${flag} names the row '${row}', which is not one of ${SMOOTHED_ROWS.join(', ')} (the rows with a smoothed lower level, named as in --methods).`);
    }
    if (seen.has(row)) throw new Error(`ct-sparse-view: --${flag} gives the row '${row}' twice.`);
    seen.add(row);
    const v = Number(text);
    if (text === '' || !Number.isFinite(v) || !(v > 0)) throw new Error(`ct-sparse-view: --${flag} ${row}=${text}: the value must be a number > 0 (the piggyback bound needs it), ${example}.`);
    out[row as SmoothedRow] = v;
  }
  return out;
}

/**
 * Every row's μ and ε from the flags: what main.ts and the scripts (`scripts/*.ts`, one model per row) read right
 * after `parseFlags`, so that a misspelt or repeated row, a bare number or a bad value stops them before the backend
 * starts. One parser for all of them: {@link parseRowValues}.
 *
 * @param flags - the flags (their `mu` and `epsilon`; missing ones are the defaults).
 * @returns each row's μ and ε.
 * @example
 * ```ts
 * smoothingRows({ mu: 'icnn=0.01', epsilon: 'foe=5e-5' }).icnn; // { mu: 0.01, epsilon: 0.0001 }
 * ```
 */
export function smoothingRows(flags: Readonly<Record<string, unknown>>): Record<SmoothedRow, RowSmoothing> {
  const mu = parseRowValues('mu', String(flags.mu ?? SMOOTHING_FLAGS.mu));
  const epsilon = parseRowValues('epsilon', String(flags.epsilon ?? SMOOTHING_FLAGS.epsilon));
  return Object.fromEntries(SMOOTHED_ROWS.map((r) => [r, { mu: mu[r], epsilon: epsilon[r] }])) as Record<SmoothedRow, RowSmoothing>;
}

/** The models the scripts build, each with the row whose μ and ε it takes (TV: TV-MAID's, the one TV lower level). */
export const MODEL_ROWS = { tv: 'tv-maid', foe: 'foe', icnn: 'icnn' } as const satisfies Record<string, SmoothedRow>;

/**
 * The row of a script's model (`--models tv,foe,icnn`), or an error naming the script, the flag and the model.
 *
 * @param script - the script's name, for the message.
 * @param model - the model's name as `--models` gives it.
 * @returns its row.
 * @example
 * ```ts
 * modelRow('tv-start.ts', 'tv'); // 'tv-maid'
 * ```
 */
export function modelRow(script: string, model: string): SmoothedRow {
  const row = (MODEL_ROWS as Readonly<Record<string, SmoothedRow>>)[model];
  if (row == null) throw new Error(`ct-sparse-view ${script}: --models lists '${model}', which is not one of ${Object.keys(MODEL_ROWS).join(', ')}.`);
  return row;
}

/**
 * μ and ε of one row from the flags.
 *
 * @param flags - the example's flags (their `mu` and `epsilon`).
 * @param row - the row.
 * @returns its μ and ε.
 * @example
 * ```ts
 * rowSmoothing({ mu: 'icnn=0.01', epsilon: 'icnn=2e-4' }, 'icnn'); // { mu: 0.01, epsilon: 0.0002 }
 * ```
 */
export function rowSmoothing(flags: Readonly<Record<string, unknown>>, row: SmoothedRow): RowSmoothing {
  return smoothingRows(flags)[row];
}
