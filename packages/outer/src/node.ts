/**
 * `@bilevel/outer/node`: the Node-only corner of `@bilevel/outer` — checkpoint files
 * (atomic writes via a temporary file and rename). The main entry, which bundles for
 * browsers, takes any `CheckpointStore`.
 *
 * @packageDocumentation
 */
export { writeFileAtomic, fileStore, fileCheckpoint, readCheckpoint } from './node/files.js';
