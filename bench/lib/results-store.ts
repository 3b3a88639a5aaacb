// Keeps benchmark results as dated JSON files in bench/results/, the project's benchmark history.
// Never overwrites or deletes an earlier results file.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** "2026-11-25T13-24-02Z": ISO 8601 with ':' replaced, so it is a portable file name that sorts by time. */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

export function writeResults(dir: string, suite: string, startedAt: Date, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const base = `${fileStamp(startedAt)}-${suite}`;
  let path = join(dir, `${base}.json`);
  for (let n = 2; listResultFiles(dir, suite).some((f) => join(dir, f) === path); n++) {
    path = join(dir, `${base}-${n}.json`);
  }
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`, { flag: 'wx' });
  return path;
}

/** Result files of a suite, oldest first. */
export function listResultFiles(dir: string, suite: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const pattern = new RegExp(`^(\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\dZ)-${suite}(?:-(\\d+))?\\.json$`);
  // Same-second files get -2, -3...; a plain sort would put "-2.json" before ".json".
  const key = (name: string): [string, number] => {
    const m = pattern.exec(name)!;
    return [m[1]!, m[2] === undefined ? 1 : Number(m[2])];
  };
  return names
    .filter((n) => pattern.test(n))
    .sort((a, b) => {
      const [sa, na] = key(a);
      const [sb, nb] = key(b);
      return sa < sb ? -1 : sa > sb ? 1 : na - nb;
    });
}

/** The newest result of a suite that satisfies `accept`, with its file name. */
export function latestResult<T>(dir: string, suite: string, accept: (data: T) => boolean = () => true): { file: string; data: T } | undefined {
  const files = listResultFiles(dir, suite);
  for (let i = files.length - 1; i >= 0; i--) {
    const data = JSON.parse(readFileSync(join(dir, files[i]!), 'utf8')) as T;
    if (accept(data)) return { file: files[i]!, data };
  }
  return undefined;
}
