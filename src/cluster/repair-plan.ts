// Anti-entropy's pure parts (cluster/repair.ts runs them): how a node's range is cut into jobs and buckets, how racks' digest tables
// are summed and compared, and which rack's copy of a key wins. No I/O, no clock, no state.
import { sameExpiry } from '../protocol/resp/index.ts';

/** A rack's view of one key: absent, or its value digest (SHA-1 hex of DUMP, or a prefix) and expiry (ms since the epoch, -1 none). */
export type KeyState = { present: false } | { present: true; digest: string; expireAt: number };

export type Verdict =
  | { kind: 'equal' }
  /** No value held by more racks than any other: left as it is, counted. */
  | { kind: 'conflict' }
  /** `from` is the index of a state holding the winning copy (null: the key should be absent); `to` the indexes to rewrite. */
  | { kind: 'repair'; from: number | null; to: number[] };

function sameState(a: KeyState, b: KeyState): boolean {
  if (!a.present || !b.present) return a.present === b.present;
  return a.digest === b.digest && sameExpiry(a.expireAt, b.expireAt);
}

/** Whether a later look at a key saw what an earlier one did (digests compared on the shorter's length: the first look carries a prefix). */
export function stable(first: KeyState, later: KeyState): boolean {
  if (!first.present || !later.present) return first.present === later.present;
  const n = Math.min(first.digest.length, later.digest.length);
  return first.digest.slice(0, n) === later.digest.slice(0, n) && sameExpiry(first.expireAt, later.expireAt);
}

/**
 * Majority of racks (no per-write timestamp exists to tell the newest): a state held by more than half of the racks wins, absence
 * included (a key only a minority holds is deleted there). Without one: if the racks that hold the key all hold the same copy, it is
 * copied to the racks that miss it (two racks: missing keys go both ways); else the copy held by the most racks wins; a tie is a conflict.
 */
export function decide(states: readonly KeyState[]): Verdict {
  const groups: number[][] = [];
  for (let i = 0; i < states.length; i++) {
    const g = groups.find((x) => sameState(states[x[0]], states[i]));
    if (g === undefined) groups.push([i]);
    else g.push(i);
  }
  if (groups.length <= 1) return { kind: 'equal' };
  const others = (g: number[]): number[] => states.map((_, i) => i).filter((i) => !g.includes(i));
  const major = groups.find((g) => g.length * 2 > states.length);
  if (major !== undefined) return { kind: 'repair', from: states[major[0]].present ? major[0] : null, to: others(major) };
  const present = groups.filter((g) => states[g[0]].present).sort((a, b) => b.length - a.length);
  if (present.length === 1 || (present.length > 1 && present[0].length > present[1].length)) return { kind: 'repair', from: present[0][0], to: others(present[0]) };
  return { kind: 'conflict' };
}

/** Buckets for a job of about `keys` keys: about four keys a bucket (a differing bucket lists few keys), 16 to 65,536, a power of two. */
export function bucketsFor(keys: number): number {
  let b = 16;
  while (b < 65_536 && b * 4 < keys) b *= 2;
  return b;
}

/** Cut inclusive hash ranges (flat pairs, sorted) into `parts` pieces covering about the same number of hashes each. */
export function splitRanges(ranges: readonly number[], parts: number): number[][] {
  let total = 0;
  for (let i = 0; i < ranges.length; i += 2) total += ranges[i + 1] - ranges[i] + 1;
  if (parts <= 1 || total === 0) return [[...ranges]];
  const size = Math.ceil(total / parts);
  const out: number[][] = [[]];
  let room = size;
  for (let i = 0; i < ranges.length; i += 2) {
    let from = ranges[i];
    const to = ranges[i + 1];
    while (from <= to) {
      const end = Math.min(to, from + room - 1);
      out[out.length - 1].push(from, end);
      room -= end - from + 1;
      from = end + 1;
      if (room === 0) {
        out.push([]);
        room = size;
      }
    }
  }
  return out.filter((p) => p.length > 0);
}

/** A rack's table (12 bytes a bucket: u32 count, u64 digest) is the sum of its nodes' tables: digests are sums mod 2^64. */
export function addTable(into: Buffer, t: Buffer): void {
  for (let o = 0; o + 12 <= into.length && o + 12 <= t.length; o += 12) {
    into.writeUInt32LE((into.readUInt32LE(o) + t.readUInt32LE(o)) >>> 0, o);
    into.writeBigUInt64LE(BigInt.asUintN(64, into.readBigUInt64LE(o + 4) + t.readBigUInt64LE(o + 4)), o + 4);
  }
}

/** Buckets where the racks' tables differ, and the keys compared (per bucket, the most any rack holds). */
export function compareTables(tables: readonly Buffer[]): { differing: number[]; keys: number } {
  const differing: number[] = [];
  let keys = 0;
  const n = tables.length === 0 ? 0 : tables[0].length / 12;
  for (let b = 0; b < n; b++) {
    const o = b * 12;
    let most = 0;
    let same = true;
    for (const t of tables) {
      most = Math.max(most, t.readUInt32LE(o));
      if (t.compare(tables[0], o, o + 12, o, o + 12) !== 0) same = false;
    }
    keys += most;
    if (!same) differing.push(b);
  }
  return { differing, keys };
}
