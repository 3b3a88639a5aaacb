// Per-worker scratch space for routing: key indexes, owners, and a RESP encoder for rebuilt requests.
// Never shared across an await: every user fills and consumes it within one synchronous call.

export const scratch = {
  keyIdx: new Int32Array(1024),
  owner: new Int32Array(1024),
  /** groupByOwner's output: each key's piece, and each piece's owner. */
  keyPiece: new Int32Array(1024),
  pieceOwner: new Int32Array(64),
  pieceOf: new Int32Array(64),
  enc: Buffer.allocUnsafeSlow(64 * 1024),
  encLen: 0,
};

/** Make sure the index arrays can hold `argc` entries and `servers` owners. */
export function ensureScratch(argc: number, servers: number): void {
  if (scratch.keyIdx.length < argc) {
    let n = scratch.keyIdx.length;
    while (n < argc) n *= 2;
    scratch.keyIdx = new Int32Array(n);
    scratch.owner = new Int32Array(n);
    scratch.keyPiece = new Int32Array(n);
  }
  if (scratch.pieceOf.length < servers) scratch.pieceOf = new Int32Array(servers * 2);
}

/**
 * The first step of every split (RESP MGET/DEL/MSET..., memcached multi-get; single node or cluster): group keys by owner.
 * owner[0..n) holds each key's owner id (a server or node index below `ids`); fills scratch.keyPiece[i] with key i's piece
 * and scratch.pieceOwner[p] with piece p's owner, pieces numbered in first-seen order. Returns how many pieces.
 */
export function groupByOwner(owner: Int32Array, n: number, ids: number): number {
  if (scratch.pieceOf.length < ids) scratch.pieceOf = new Int32Array(ids * 2);
  if (scratch.keyPiece.length < n) scratch.keyPiece = new Int32Array(scratch.owner.length);
  const pieceOf = scratch.pieceOf;
  pieceOf.fill(-1, 0, ids);
  let pieces = 0;
  for (let i = 0; i < n; i++) {
    const o = owner[i];
    let p = pieceOf[o];
    if (p < 0) {
      p = pieceOf[o] = pieces++;
      if (scratch.pieceOwner.length < pieces) {
        const grown = new Int32Array(pieces * 2);
        grown.set(scratch.pieceOwner);
        scratch.pieceOwner = grown;
      }
      scratch.pieceOwner[p] = o;
    }
    scratch.keyPiece[i] = p;
  }
  return pieces;
}

function reserve(n: number): Buffer {
  let b = scratch.enc;
  if (scratch.encLen + n > b.length) {
    let size = b.length * 2;
    while (size < scratch.encLen + n) size *= 2;
    const nb = Buffer.allocUnsafeSlow(size);
    b.copy(nb, 0, 0, scratch.encLen);
    scratch.enc = nb;
    b = nb;
  }
  return b;
}

function writeDecimal(b: Buffer, o: number, n: number): number {
  if (n === 0) {
    b[o] = 0x30;
    return o + 1;
  }
  let digits = 0;
  for (let x = n; x > 0; x = Math.floor(x / 10)) digits++;
  let p = o + digits - 1;
  for (let x = n; x > 0; x = Math.floor(x / 10)) b[p--] = 0x30 + (x % 10);
  return o + digits;
}

export function encReset(): void {
  scratch.encLen = 0;
}

/** Append `*n\r\n` (or `$n\r\n` with prefix 0x24). */
export function encHeader(prefix: number, n: number): void {
  const b = reserve(24);
  let o = scratch.encLen;
  b[o++] = prefix;
  o = writeDecimal(b, o, n);
  b[o++] = 13;
  b[o++] = 10;
  scratch.encLen = o;
}

/** Append bytes as they are. */
export function encRaw(src: Uint8Array, start: number, end: number): void {
  const n = end - start;
  const b = reserve(n);
  b.set(src.subarray(start, end), scratch.encLen);
  scratch.encLen += n;
}

export function encBulk(src: Uint8Array, start: number, len: number): void {
  encHeader(0x24, len);
  const b = reserve(len + 2);
  let o = scratch.encLen;
  b.set(src.subarray(start, start + len), o);
  o += len;
  b[o++] = 13;
  b[o++] = 10;
  scratch.encLen = o;
}

/** The arguments of a parsed request (a RESP parser, or anything shaped like one). */
export interface Args {
  readonly argBuf: Uint8Array;
  readonly argOff: Int32Array;
  readonly argLen: Int32Array;
  readonly argc: number;
}

/**
 * `<name> k1 [v1] k2 [v2] ...` into scratch.enc for the keys (scratch.keyIdx[0..n)) whose owner[i] is `which`:
 * one piece of a split MGET/DEL/MSET, keeping the client's own command name bytes.
 */
export function encodeKeyPiece(a: Args, n: number, owner: Int32Array, which: number, pairs: boolean): void {
  let count = 0;
  for (let i = 0; i < n; i++) if (owner[i] === which) count++;
  encReset();
  encHeader(0x2a, 1 + count * (pairs ? 2 : 1));
  encBulk(a.argBuf, a.argOff[0], a.argLen[0]);
  const k = scratch.keyIdx;
  for (let i = 0; i < n; i++) {
    if (owner[i] !== which) continue;
    encBulk(a.argBuf, a.argOff[k[i]], a.argLen[k[i]]);
    if (pairs) encBulk(a.argBuf, a.argOff[k[i] + 1], a.argLen[k[i] + 1]);
  }
}
