// Hints on disk (hints_dir): one append-only file per worker per target, length-prefixed records with a CRC-32; read back at start.
// Never trusts a file: a bad header skips the file, a truncated or corrupt record ends the good prefix, and both are reported, never thrown.
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

/** File header: magic, then the target's node identity (u32 length, bytes, CRC-32 of the bytes). */
const MAGIC = Buffer.from('DYNHINT1');
/** Record: u32 payload length, u32 CRC-32 of (kind .. payload), u8 kind, u8 flags, f64 wall-clock ms, payload. */
const REC_HEAD = 18;
export const REC_HINT = 0;
/** Payload: u32 count of hints removed from the queue's head (delivered, dropped or expired). */
export const REC_SKIP = 1;
const FLAG_FORWARD = 1;
/** A record larger than this is corrupt (no request is kept as a hint beyond max_request_bytes, itself < 2 GiB). */
const MAX_RECORD = 0x7fffffff;

export interface LoadedHint {
  bytes: Uint8Array;
  forward: boolean;
  /** Wall-clock ms when it was queued. */
  at: number;
}

export interface DecodedFile {
  /** The target's node identity; null when the header is unreadable. */
  id: string | null;
  /** Live hints, oldest first (skip records applied). */
  hints: LoadedHint[];
  /** Bytes after the good prefix (a truncated or corrupt tail); 0 for a clean file. */
  badBytes: number;
}

export function encodeHeader(id: string): Buffer {
  const idb = Buffer.from(id, 'utf8');
  const b = Buffer.allocUnsafe(MAGIC.length + 8 + idb.length);
  MAGIC.copy(b, 0);
  b.writeUInt32LE(idb.length, MAGIC.length);
  idb.copy(b, MAGIC.length + 4);
  b.writeUInt32LE(crc32(idb), MAGIC.length + 4 + idb.length);
  return b;
}

export function encodeRecord(kind: number, forward: boolean, at: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(REC_HEAD + payload.length);
  b.writeUInt32LE(payload.length, 0);
  b[8] = kind;
  b[9] = forward ? FLAG_FORWARD : 0;
  b.writeDoubleLE(at, 10);
  b.set(payload, REC_HEAD);
  b.writeUInt32LE(crc32(b.subarray(8)), 4);
  return b;
}

export function encodeSkip(count: number, at: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32LE(count, 0);
  return encodeRecord(REC_SKIP, false, at, p);
}

/** Parse a whole file: the good prefix's live hints, and how many bytes after it could not be read. */
export function decodeFile(buf: Buffer): DecodedFile {
  const h = MAGIC.length;
  if (buf.length < h + 8 || !buf.subarray(0, h).equals(MAGIC)) return { id: null, hints: [], badBytes: buf.length };
  const idLen = buf.readUInt32LE(h);
  if (idLen > 4096 || buf.length < h + 8 + idLen) return { id: null, hints: [], badBytes: buf.length };
  const idb = buf.subarray(h + 4, h + 4 + idLen);
  if (crc32(idb) !== buf.readUInt32LE(h + 4 + idLen)) return { id: null, hints: [], badBytes: buf.length };
  const all: LoadedHint[] = [];
  let skip = 0;
  let off = h + 8 + idLen;
  while (off < buf.length) {
    if (buf.length - off < REC_HEAD) break;
    const len = buf.readUInt32LE(off);
    if (len > MAX_RECORD || buf.length - off - REC_HEAD < len) break;
    const body = buf.subarray(off + 8, off + REC_HEAD + len);
    if (crc32(body) !== buf.readUInt32LE(off + 4)) break;
    const kind = buf[off + 8];
    if (kind === REC_HINT) {
      all.push({ bytes: new Uint8Array(buf.subarray(off + REC_HEAD, off + REC_HEAD + len)), forward: (buf[off + 9] & FLAG_FORWARD) !== 0, at: buf.readDoubleLE(off + 10) });
    } else if (kind === REC_SKIP && len === 4) {
      skip += buf.readUInt32LE(off + REC_HEAD);
    } else break;
    off += REC_HEAD + len;
  }
  return { id: idb.toString('utf8'), hints: all.slice(Math.min(skip, all.length)), badBytes: buf.length - off };
}

/** File name for one worker's (`family`: see listHintFiles) hints for one target: the identity made safe for a file name, plus its CRC to keep names distinct. */
export function hintFileName(pool: string, worker: number, id: string, family = 'w'): string {
  const safe = id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  const pSafe = pool.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${pSafe}.${family}${worker}.${safe}.${crc32(Buffer.from(id)).toString(16)}.hints`;
}

/**
 * The files of `pool` in `dir` with their worker number (a missing directory: none). `family`: 'w' for the data workers'
 * files, 'c' for the cluster worker's (its remote-DC writes), so neither loads the other's.
 */
export function listHintFiles(dir: string, pool: string, family = 'w'): { file: string; worker: number }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const prefix = `${pool.replace(/[^A-Za-z0-9._-]/g, '_')}.${family}`;
  const out: { file: string; worker: number }[] = [];
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.hints')) continue;
    const w = Number.parseInt(n.slice(prefix.length), 10);
    if (Number.isInteger(w) && w >= 0) out.push({ file: path.join(dir, n), worker: w });
  }
  return out;
}
