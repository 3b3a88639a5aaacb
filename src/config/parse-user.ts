// One entry of a pool's `users:` list, written like a Redis ACL rule line: `name #<sha256 hex>|>password +@category … ~pattern …`.
// Never keeps a plaintext password: `>password` is hashed here (SHA-256, as Redis ACL stores it) and only the digest goes on.
import { createHash } from 'node:crypto';
import { ValueProblem } from './config-error.ts';

/** A user the RESP front authenticates with `AUTH name password`: what it may run and which keys it may touch. */
export interface UserConf {
  readonly name: string;
  /** SHA-256 of the password, lowercase hex. */
  readonly sha256: string;
  /** Redis ACL categories allowed (`all` = every command): read, write, admin, keyspace, string, list, hash, set, sortedset … */
  readonly categories: readonly string[];
  /** Key glob patterns (Redis' `~pattern`); ['*'] = every key (`allkeys`); [] = no key at all. */
  readonly keys: readonly string[];
}

export const ACL_CATEGORIES = [
  'all', 'read', 'write', 'admin', 'keyspace', 'string', 'list', 'hash', 'set', 'sortedset', 'stream', 'bitmap', 'hyperloglog', 'geo',
  'pubsub', 'scripting', 'transaction', 'connection', 'fast', 'slow', 'blocking', 'dangerous',
] as const;

export function parseUser(text: string): UserConf {
  const words = text.trim().split(/\s+/);
  const name = words[0] ?? '';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) throw new ValueProblem('a user starts with its name (letters, digits, _ . : -)');
  if (name === 'default') throw new ValueProblem("the default user's password is requirepass; list other users here");
  let sha256: string | null = null;
  const categories: string[] = [];
  const keys: string[] = [];
  for (const w of words.slice(1)) {
    if (w.startsWith('#')) {
      const hex = w.slice(1).toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(hex)) throw new ValueProblem(`user ${name}: #<hash> is the password's SHA-256 in 64 hex digits`);
      sha256 = hex;
    } else if (w.startsWith('>')) {
      if (w.length === 1) throw new ValueProblem(`user ${name}: >password must not be empty`);
      sha256 = createHash('sha256').update(w.slice(1), 'utf8').digest('hex');
    } else if (w.startsWith('+@')) {
      const cat = w.slice(2).toLowerCase();
      if (!(ACL_CATEGORIES as readonly string[]).includes(cat)) throw new ValueProblem(`user ${name}: unknown category ${JSON.stringify(cat)}; one of ${ACL_CATEGORIES.join(', ')}`);
      categories.push(cat);
    } else if (w === 'allcommands') categories.push('all');
    else if (w.startsWith('~') && w.length > 1) keys.push(w.slice(1));
    else if (w === 'allkeys') keys.push('*');
    else throw new ValueProblem(`user ${name}: unknown rule ${JSON.stringify(w.slice(0, 40))} (use #<sha256>, >password, +@category, allcommands, ~pattern, allkeys)`);
  }
  if (sha256 === null) throw new ValueProblem(`user ${name}: no password (#<sha256 hex> or >password; in YAML quote the line, as ' #' starts a comment)`);
  return { name, sha256, categories, keys };
}
