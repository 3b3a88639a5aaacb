// Users of a RESP pool (`users:`): compiled once per config into allowed command ids and key patterns, checked on each request of a
// connection that authenticated as one. Never costs a connection without a user anything, and never holds a password (only its digest).
import { createHash, timingSafeEqual } from 'node:crypto';
import { ALL_COMMANDS, F_ADMIN, F_BLOCKING, F_FAST, F_PUBSUB, F_READONLY, F_WRITE, keyIndexes, type CommandSpec } from '../../commands/index.ts';
import type { UserConf } from '../../config/index.ts';
import { errReply } from './resp-replies.ts';
import type { RespSession } from './resp-session.ts';
import type { AclUser } from './acl-user.ts';

export type { AclUser } from './acl-user.ts';

const GROUP_CATEGORY: Record<string, string> = {
  generic: 'keyspace', string: 'string', list: 'list', hash: 'hash', set: 'set', 'sorted-set': 'sortedset', stream: 'stream', bitmap: 'bitmap',
  hyperloglog: 'hyperloglog', geo: 'geo', scripting: 'scripting', transactions: 'transaction', connection: 'connection', pubsub: 'pubsub',
  server: 'admin', cluster: 'admin',
};

/** Commands Redis marks @dangerous without the admin flag. */
const DANGEROUS = new Set(['flushall', 'flushdb', 'keys', 'swapdb', 'migrate', 'restore', 'sort', 'sort_ro', 'monitor']);

/** Redis ACL categories of a command, from the command table's flags and group. */
export function categoriesOf(spec: CommandSpec): string[] {
  const f = spec.flags;
  const cats: string[] = [];
  if ((f & F_READONLY) !== 0) cats.push('read');
  if ((f & F_WRITE) !== 0) cats.push('write');
  if ((f & F_ADMIN) !== 0 || DANGEROUS.has(spec.name)) cats.push('dangerous');
  if ((f & F_ADMIN) !== 0) cats.push('admin');
  if ((f & F_PUBSUB) !== 0) cats.push('pubsub');
  if ((f & F_BLOCKING) !== 0) cats.push('blocking');
  cats.push((f & F_FAST) !== 0 ? 'fast' : 'slow');
  const g = GROUP_CATEGORY[spec.group === '' ? (spec.parent?.group ?? 'generic') : spec.group];
  if (g !== undefined && !cats.includes(g)) cats.push(g);
  return cats;
}

/** Connection and transaction commands (AUTH, PING, HELLO, QUIT, MULTI, EXEC …) every user may run. */
function alwaysAllowed(spec: CommandSpec): boolean {
  const g = spec.group === '' ? spec.parent?.group : spec.group;
  return g === 'connection' || g === 'transactions';
}

export function compileUsers(users: readonly UserConf[]): Map<string, AclUser> {
  const max = ALL_COMMANDS.reduce((m, s) => Math.max(m, s.id), 0);
  const out = new Map<string, AclUser>();
  for (const u of users) {
    const allowed = new Uint8Array(max + 1);
    const all = u.categories.includes('all');
    for (const s of ALL_COMMANDS) if (all || alwaysAllowed(s) || categoriesOf(s).some((c) => u.categories.includes(c))) allowed[s.id] = 1;
    const patterns = u.keys.includes('*') ? null : u.keys.map((k) => Buffer.from(k, 'utf8'));
    out.set(u.name, { name: u.name, digest: Buffer.from(u.sha256, 'hex'), allowed, patterns });
  }
  return out;
}

const UNKNOWN_USER_DIGEST = Buffer.alloc(32);

/** The user whose password this is, or null; the digest comparison is constant-time, and an unknown name costs the same. */
export function authenticateUser(users: ReadonlyMap<string, AclUser>, name: string, pass: Buffer): AclUser | null {
  const u = users.get(name);
  const given = createHash('sha256').update(pass).digest();
  const ok = timingSafeEqual(given, u === undefined ? UNKNOWN_USER_DIGEST : u.digest);
  return ok && u !== undefined ? u : null;
}

const NOPERM_KEY = errReply('NOPERM No permissions to access a key');
let keyScratch = new Int32Array(1024);

/** The -NOPERM reply (Redis 7's words) when the connection's user may not run this request, else null. */
export function aclRefusal(c: RespSession, user: AclUser, spec: CommandSpec): Uint8Array | null {
  if (user.allowed[spec.id] === 0) return errReply(`NOPERM User ${user.name} has no permissions to run the '${spec.name}' command`);
  const patterns = user.patterns;
  if (patterns === null) return null;
  const p = c.parser;
  if (p.argc > keyScratch.length) keyScratch = new Int32Array(p.argc);
  const n = keyIndexes(spec, p.argBuf, p.argOff, p.argLen, p.argc, keyScratch);
  for (let i = 0; i < n; i++) {
    const k = keyScratch[i];
    const ks = p.argOff[k];
    const ke = ks + p.argLen[k];
    let ok = false;
    for (const pat of patterns) if (globMatch(pat, 0, p.argBuf, ks, ke)) ok = true;
    if (!ok) return NOPERM_KEY;
  }
  return null;
}

/** Redis' stringmatchlen for `*`, `?`, `[abc]`, `[a-z]`, `[^x]` and `\` escapes, on bytes; iterative, with one backtrack point for `*`. */
export function globMatch(pat: Uint8Array, pi: number, s: Uint8Array, si: number, se: number): boolean {
  let starP = -1;
  let starS = 0;
  const pe = pat.length;
  while (si < se) {
    if (pi < pe) {
      const c = pat[pi];
      if (c === 0x2a) {
        starP = ++pi;
        starS = si;
        continue;
      }
      if (c === 0x3f) {
        pi++;
        si++;
        continue;
      }
      if (c === 0x5b) {
        const r = matchClass(pat, pi, s[si]);
        if (r > 0) {
          pi = r;
          si++;
          continue;
        }
      } else {
        const lit = c === 0x5c && pi + 1 < pe ? pat[pi + 1] : c;
        if (lit === s[si]) {
          pi += c === 0x5c && pi + 1 < pe ? 2 : 1;
          si++;
          continue;
        }
      }
    }
    if (starP < 0) return false;
    pi = starP;
    si = ++starS;
  }
  while (pi < pe && pat[pi] === 0x2a) pi++;
  return pi === pe;
}

/** `[...]` at pat[pi] against byte b: the index after the class when it matches, else -1. */
function matchClass(pat: Uint8Array, pi: number, b: number): number {
  let i = pi + 1;
  const neg = pat[i] === 0x5e;
  if (neg) i++;
  let hit = false;
  while (i < pat.length && pat[i] !== 0x5d) {
    if (pat[i] === 0x5c && i + 1 < pat.length) {
      if (pat[i + 1] === b) hit = true;
      i += 2;
    } else if (i + 2 < pat.length && pat[i + 1] === 0x2d && pat[i + 2] !== 0x5d) {
      const lo = Math.min(pat[i], pat[i + 2]);
      const hi = Math.max(pat[i], pat[i + 2]);
      if (b >= lo && b <= hi) hit = true;
      i += 3;
    } else {
      if (pat[i] === b) hit = true;
      i++;
    }
  }
  if (i >= pat.length) return -1;
  return hit !== neg ? i + 1 : -1;
}
