/**
 * Browser stand-in for the Node modules (`node:fs`, `node:path`, `node:url`, `pngjs`) that the
 * file helpers of `@bilevel/imaging` and the checkpoints of `@bilevel/outer` import at module
 * level. The playground never calls those helpers (it decodes images with the browser's own
 * decoder and keeps no checkpoint files); the stand-ins only let the modules load, and any
 * call fails with a message. To be removed once the Node-only corners move behind the
 * `@bilevel/imaging/node` and `@bilevel/outer/node` subpath exports.
 */
function unavailable(name: string): (...args: unknown[]) => never {
  return () => {
    throw new Error(`playground: ${name} is a Node API and is not available in the browser.`);
  };
}
export const readFileSync = unavailable('fs.readFileSync');
export const writeFileSync = unavailable('fs.writeFileSync');
export const readdirSync = unavailable('fs.readdirSync');
export const existsSync = (): boolean => false;
export const mkdirSync = unavailable('fs.mkdirSync');
export const openSync = unavailable('fs.openSync');
export const writeSync = unavailable('fs.writeSync');
export const fsyncSync = unavailable('fs.fsyncSync');
export const closeSync = unavailable('fs.closeSync');
export const renameSync = unavailable('fs.renameSync');
// Path helpers run at module level (SAMPLE_IMAGE_DIR); plain string joins are enough there.
export const join = (...parts: string[]): string => parts.join('/');
export const resolve = join;
export const dirname = (p: string): string => p.replace(/\/[^/]*$/, '');
export const basename = (p: string): string => p.replace(/^.*\//, '');
export const fileURLToPath = (u: string | URL): string => String(u);
const PNG = { sync: { read: unavailable('pngjs PNG.sync.read'), write: unavailable('pngjs PNG.sync.write') } };
export default { PNG };
