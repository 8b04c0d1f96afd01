/**
 * The methods of the table, in order. To add one: write `methods/<name>.ts` exporting a
 * `CtMethod` (see `../context.ts`) and append it here; `--methods name,name` selects a subset.
 */
import type { CtMethod } from '../context.js';
import { fbpMethod } from './fbp.js';
import { tvGridMethod } from './tv-grid.js';
import { tvMaidMethod } from './tv-maid.js';
import { foeNetworkMethod, icnnNetworkMethod } from './convex-network.js';
import { acrMethod } from './acr.js';
import { lpdMethod } from './lpd.js';

export const METHODS: CtMethod[] = [fbpMethod, tvGridMethod, tvMaidMethod, foeNetworkMethod, icnnNetworkMethod, acrMethod, lpdMethod];
