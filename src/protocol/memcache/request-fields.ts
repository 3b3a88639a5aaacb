// MemcacheRequest: what the request parser reports about the last frame, and the limits it parses under.
// Pure data plus small helpers: no I/O, and nothing here allocates per request (arrays grow by doubling only).
import { CMD_INVALID, ERR_NONE } from './command-ids.ts';

export interface MemcacheLimits {
  /** Longest key (memcached's KEY_MAX_LENGTH: 250). A longer key is "CLIENT_ERROR bad command line format". */
  maxKeyLength: number;
  /**
   * Longest command line before its "\n". memcached closes a connection that has buffered more than 2048 bytes
   * with no newline unless the line starts with "get " or "gets " (after at most 100 spaces); we apply that rule
   * to the line's content, whatever the chunking. get/gets lines may grow to maxLineBytes + maxKeys*(maxKeyLength+1).
   */
  maxLineBytes: number;
  /** Largest data block (memcached's -I, 1 MiB by default); larger is "SERVER_ERROR object too large for cache". */
  maxValueBytes: number;
  /** Most keys in one get/gets/gat/gats (memcached has no fixed limit; ours answers like its out-of-memory case). */
  maxKeys: number;
}

export const DEFAULT_MEMCACHE_LIMITS: MemcacheLimits = Object.freeze({
  maxKeyLength: 250,
  maxLineBytes: 2048,
  maxValueBytes: 1024 * 1024,
  maxKeys: 16384,
});

// What classifying one command line asks the framing code to do next.
export const LINE_DONE = 0; // the frame ends with the line (a request or a CMD_INVALID error)
export const LINE_DATA = 1; // a data block of dataLen bytes + "\r\n" follows
export const LINE_SWALLOW = 2; // an error frame ending with the line; then `swallowBytes` bytes are discarded
export const LINE_CLOSE = 3; // the connection must be closed

export class MemcacheRequest {
  /** CMD_* of the last frame; CMD_INVALID for a request memcached answers with errorMessage. */
  cmd = CMD_INVALID;
  /**
   * Keys: offsets into the buffer given to parse(). For get/gets/gat/gats, buf[frameStart, keyOff[0]) is the
   * command with its exptime, to rebuild per-server requests when splitting. While a line is being classified
   * these arrays hold its tokens.
   */
  keyCount = 0;
  keyOff: Int32Array;
  keyLen: Int32Array;
  /**
   * Meta `b` flag (mg/ms/md/ma, and me with `b` as its second token): keyOff/keyLen are the base64 text as sent,
   * and the bytes memcached stores under (so the bytes to hash, for placement to agree with clients that send the
   * same key unencoded) are decodedKey[0, decodedKeyLen).
   */
  keyBinary = false;
  readonly decodedKey: Uint8Array;
  decodedKeyLen = 0;
  /** Classic `noreply` as memcached sees it (last token). On a CMD_INVALID frame: memcached sends no error. */
  noreply = false;
  /**
   * Meta `q` flag. memcached then drops only the "nominal" reply: EN for mg; HD for ms, md and ma (and ma's VA);
   * errors, misses of md/ma (NF) and failed stores (NS, EX) still come back.
   */
  quiet = false;
  /** Meta `O` flag: the opaque value (after the 'O') at opaqueOff, or opaqueLen = -1 when absent. */
  opaqueOff = 0;
  opaqueLen = -1;
  /** Meta `M` flag: its mode character (ms: E A P R S; ma: I + D -), or 0. */
  metaMode = 0;
  /** Meta commands: the flag tokens are buf[flagsStart, flagsEnd) (after the key; for ms, after the data length). */
  flagsStart = 0;
  flagsEnd = 0;
  /** Offset just after the command line's "\n". */
  lineEnd = 0;
  /** Data block of storage commands and ms (its "\r\n" excluded); dataLen = -1 when there is none. */
  dataStart = 0;
  dataLen = -1;
  frameStart = 0;
  /** After PARSE_INCOMPLETE: a lower bound of the whole frame's length, counted from frameStart. */
  needed = 0;
  /** ERR_* of the last CMD_INVALID frame or PARSE_ERROR. */
  errorKind = ERR_NONE;
  /** The whole reply line memcached would send for it (without CRLF), or why the connection is closed. */
  errorMessage = '';

  readonly maxKeyLength: number;
  readonly maxLineBytes: number;
  readonly maxValueBytes: number;
  readonly maxKeys: number;
  /** Tokens on the line being classified, and whether more followed than the arrays were allowed to hold. */
  tokenCount = 0;
  tokensOverflow = false;
  /** Bytes to discard after a LINE_SWALLOW frame. */
  swallowBytes = 0;
  private metaLower = 0;
  private metaUpper = 0;

  constructor(limits: MemcacheLimits) {
    this.maxKeyLength = limits.maxKeyLength;
    this.maxLineBytes = limits.maxLineBytes;
    this.maxValueBytes = Math.min(limits.maxValueBytes, 0x7fffffff - 2);
    this.maxKeys = limits.maxKeys;
    this.keyOff = new Int32Array(32);
    this.keyLen = new Int32Array(32);
    // A base64 key decodes to at most 3/4 of its length.
    this.decodedKey = new Uint8Array(Math.max(4, Math.ceil((limits.maxKeyLength * 3) / 4) + 3));
  }

  /** Whether the last meta frame carried the flag with this letter (char code), e.g. hasMetaFlag(0x71) for `q`. */
  hasMetaFlag(letter: number): boolean {
    if (letter >= 97 && letter <= 122) return (this.metaLower & (1 << (letter - 97))) !== 0;
    if (letter >= 65 && letter <= 90) return (this.metaUpper & (1 << (letter - 65))) !== 0;
    return false;
  }

  /** Records a meta flag letter for hasMetaFlag(). */
  noteMetaFlag(letter: number): void {
    if (letter >= 97 && letter <= 122) this.metaLower |= 1 << (letter - 97);
    else if (letter >= 65 && letter <= 90) this.metaUpper |= 1 << (letter - 65);
  }

  /** Forgets everything about the previous frame before a new line is classified. */
  clearOutputs(): void {
    this.cmd = CMD_INVALID;
    this.keyCount = 0;
    this.keyBinary = false;
    this.decodedKeyLen = 0;
    this.noreply = false;
    this.quiet = false;
    this.opaqueLen = -1;
    this.metaMode = 0;
    this.metaLower = 0;
    this.metaUpper = 0;
    this.flagsStart = 0;
    this.flagsEnd = 0;
    this.dataLen = -1;
    this.errorKind = ERR_NONE;
    this.errorMessage = '';
    this.swallowBytes = 0;
  }

  /** A CMD_INVALID frame answered with `message`; the stream goes on after the line. */
  fail(kind: number, message: string): number {
    this.cmd = CMD_INVALID;
    this.keyCount = 0;
    this.errorKind = kind;
    this.errorMessage = message;
    return LINE_DONE;
  }

  /** A CMD_INVALID frame after which memcached discards `bytes` bytes (the data block) before reading on. */
  failSwallow(kind: number, message: string, bytes: number): number {
    this.fail(kind, message);
    this.swallowBytes = bytes;
    return LINE_SWALLOW;
  }

  /** Makes room for n tokens/keys, keeping the first `keep` entries. */
  ensureKeyCapacity(n: number, keep: number): void {
    let cap = this.keyOff.length;
    if (n <= cap) return;
    while (cap < n) cap *= 2;
    const off = new Int32Array(cap);
    const len = new Int32Array(cap);
    off.set(this.keyOff.subarray(0, keep));
    len.set(this.keyLen.subarray(0, keep));
    this.keyOff = off;
    this.keyLen = len;
  }

  /** Moves every offset of a single-key frame by delta (the frame moved to another buffer position). */
  rebase(delta: number): void {
    for (let i = 0; i < this.keyCount; i++) this.keyOff[i] += delta;
    this.opaqueOff += delta;
    this.flagsStart += delta;
    this.flagsEnd += delta;
    this.lineEnd += delta;
    this.dataStart += delta;
    this.frameStart += delta;
  }
}
