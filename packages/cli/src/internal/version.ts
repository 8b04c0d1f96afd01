/** The package version, read from package.json next to src/ or dist/. */
import { readFileSync } from 'node:fs';

/** `@bilevel/cli`'s version. */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const m = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (m.name === '@bilevel/cli' && m.version != null) return m.version;
    } catch {
      // try the next location (src/internal → package root is ../../; dist/cjs/internal is one deeper)
    }
  }
  return 'unknown';
}
