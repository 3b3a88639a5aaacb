// A node's tokens after a ring move (POST /ring/move, cluster/move.ts): `<hints_dir>/<pool>.tokens.json`, written by the cluster
// worker, read by loadConfig over the config's `tokens` (the config still names the old ones; the file wins until it is deleted).
// Never half-written (a temporary file renamed over it), never silently ignored when unreadable (a node with the wrong tokens would
// serve another node's range): loadConfig fails with the file's name instead.
import { readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface MovedTokens {
  /** Decimal token text, as a config's `tokens` holds them. */
  tokens: string[];
  /** The move's join has not finished: started again, the node joins (join: true) rather than serving the range at once. */
  joining: boolean;
}

const TOKEN = /^\d{1,10}$/;

export function movedTokensPath(hintsDir: string, pool: string): string {
  return join(hintsDir, `${pool}.tokens.json`);
}

/** The file's tokens, null when there is none; throws (with a reason) when it exists and is not a valid record. */
export function readMovedTokens(hintsDir: string, pool: string): MovedTokens | null {
  const path = movedTokensPath(hintsDir, pool);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path}: cannot read the moved tokens (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${path}: not JSON (a ring move's tokens); delete it to use the config's tokens`);
  }
  const r = v as Partial<MovedTokens> | null;
  const ok =
    r !== null && typeof r === 'object' && Array.isArray(r.tokens) && r.tokens.length > 0 && r.tokens.length <= 256 && typeof r.joining === 'boolean' &&
    r.tokens.every((t) => typeof t === 'string' && TOKEN.test(t) && Number(t) <= 0xffffffff);
  if (!ok) throw new Error(`${path}: expected {"tokens": ["<0-4294967295>", ...], "joining": true|false}; delete it to use the config's tokens`);
  return { tokens: [...(r.tokens as string[])], joining: r.joining as boolean };
}

/** Writes the record (temporary file, then rename); throws on a disk error. */
export function writeMovedTokens(hintsDir: string, pool: string, moved: MovedTokens): void {
  mkdirSync(hintsDir, { recursive: true });
  const path = movedTokensPath(hintsDir, pool);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ tokens: moved.tokens, joining: moved.joining, written_at: new Date().toISOString() })}\n`);
  renameSync(tmp, path);
}
