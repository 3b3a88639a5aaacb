// DnodeParser: incremental, zero-copy, resumable parser of Dynomite dnode peer messages (header + raw payload).
// Pure: no I/O, and never allocates per message (outputs are offsets and numbers; errors are constant strings).
import { DNODE_FLAG_ENCRYPTED, DNODE_MAGIC } from './dnode-types.ts';

export const DNODE_INCOMPLETE = 0;
export const DNODE_ERROR = -1;

export interface DnodeLimits {
  /** Longest payload (the RESP or memcached bytes after the header); offsets are Int32, so at most 2^31-1. */
  maxPayloadBytes: number;
  /** Longest `data` field. Dynomite puts one byte there, or an RSA-encrypted AES key when encrypting. */
  maxDataBytes: number;
  /** Accept frames with the encryption flag. We cannot decrypt them, so only a caller that refuses them later may. */
  allowEncrypted: boolean;
}

export const DEFAULT_DNODE_LIMITS: DnodeLimits = Object.freeze({
  maxPayloadBytes: 512 * 1024 * 1024,
  maxDataBytes: 4096,
  allowEncrypted: false,
});

/**
 * Dynomite's msg_id is a uint64 counter of the sender. We keep it a JS number and refuse ids above 2^53-1:
 * a counter at a million messages a second takes 285 years to get there, and a number needs no BigInt per message.
 */
export const MAX_DNODE_MSG_ID = Number.MAX_SAFE_INTEGER;

const SP = 0x20;
const STAR = 0x2a;
const CR = 0x0d;
const LF = 0x0a;
const MAGIC_LEN = DNODE_MAGIC.length;
// "   $2014$ 0 0 0 0 0 *0  *0\r\n": no frame is shorter.
const MIN_FRAME_BYTES = MAGIC_LEN + 18;
// After the data bytes at least " *0\r\n" follows.
const TAIL_MIN_BYTES = 5;
// Dynomite writes type, flags and version as uint8 and same_dc as a bool.
const BYTE_MAX = 255;

const NUM_INCOMPLETE = -2;
const NUM_INVALID = -3;

const MSG_BAD_MAGIC = 'dnode: bad magic (expected "   $2014$ ")';
const MSG_BAD_MSG_ID = 'dnode: invalid msg_id';
const MSG_BAD_TYPE = 'dnode: invalid type';
const MSG_BAD_FLAGS = 'dnode: invalid flags';
const MSG_BAD_VERSION = 'dnode: invalid version';
const MSG_BAD_SAME_DC = 'dnode: invalid same_dc';
const MSG_BAD_DATA_LEN = 'dnode: invalid or too long data length';
const MSG_BAD_AFTER_DATA = 'dnode: expected " *" after data';
const MSG_BAD_PAYLOAD_LEN = 'dnode: invalid or too long payload length';
const MSG_ENCRYPTED = "dnode: encrypted message refused (Dynomite's RSA+AES-CBC peer encryption is not implemented; secure_server_option means TLS here)";

export class DnodeParser {
  msgId = 0;
  type = 0;
  flags = 0;
  version = 0;
  sameDc = 0;
  dataStart = 0;
  dataLen = 0;
  payloadStart = 0;
  payloadLen = 0;
  frameStart = 0;
  /** After DNODE_INCOMPLETE: a lower bound of the whole frame's length, counted from frameStart (> bytes seen). */
  needed = 0;
  errorMessage = '';

  private maxPayload: number;
  private readonly maxData: number;
  private payloadDigits: number;
  private readonly dataDigits: number;
  private readonly allowEncrypted: boolean;
  /** > 0 while a frame whose header was read waits for its payload: the header's length. */
  private headerLen = 0;
  /** dataStart relative to the frame's first byte, kept so the frame can move to a gather buffer. */
  private dataOffset = 0;
  /** readNumber's result. */
  private num = 0;

  constructor(limits: DnodeLimits = DEFAULT_DNODE_LIMITS) {
    this.maxPayload = Math.min(Math.max(0, Math.floor(limits.maxPayloadBytes)), 0x7fffffff);
    this.maxData = Math.min(Math.max(0, Math.floor(limits.maxDataBytes)), 0xffff);
    this.payloadDigits = String(this.maxPayload).length;
    this.dataDigits = String(this.maxData).length;
    this.allowEncrypted = limits.allowEncrypted;
  }

  reset(): void {
    this.headerLen = 0;
  }

  /** Change the payload bound between frames (a peer port reads only small frames until the peer authenticated). */
  limitPayload(maxPayloadBytes: number): void {
    this.maxPayload = Math.min(Math.max(0, Math.floor(maxPayloadBytes)), 0x7fffffff);
    this.payloadDigits = String(this.maxPayload).length;
  }

  /**
   * Parse one message at buf[pos, end). Returns the message's end offset (> pos), DNODE_INCOMPLETE or DNODE_ERROR.
   * After DNODE_INCOMPLETE the next call must present the same partial message (from `frameStart`) at its `pos`,
   * with more bytes after it; call reset() before parsing anything else. A header is at most a few dozen bytes
   * plus maxDataBytes, so a partial header is simply read again; a partial payload is never rescanned.
   */
  parse(buf: Uint8Array, pos: number, end: number): number {
    const avail = end - pos;
    const pendingHeader = this.headerLen;
    if (pendingHeader > 0) {
      if (pendingHeader <= avail) {
        const frameLen = pendingHeader + this.payloadLen;
        if (avail < frameLen) return this.incomplete(pos, frameLen);
        this.headerLen = 0;
        this.frameStart = pos;
        this.dataStart = pos + this.dataOffset;
        this.payloadStart = pos + pendingHeader;
        return pos + frameLen;
      }
      // Fewer bytes than the header we already read: the contract was broken, read from scratch.
      this.headerLen = 0;
    }
    const magicAvail = avail < MAGIC_LEN ? avail : MAGIC_LEN;
    for (let i = 0; i < magicAvail; i++) if (buf[pos + i] !== DNODE_MAGIC[i]) return this.fail(MSG_BAD_MAGIC);
    if (magicAvail < MAGIC_LEN) return this.incomplete(pos, MIN_FRAME_BYTES);
    let floor = MIN_FRAME_BYTES > avail ? MIN_FRAME_BYTES : avail + 1;

    let p = this.readNumber(buf, pos + MAGIC_LEN, end, 16, MAX_DNODE_MSG_ID, SP);
    if (p < 0) return this.numberFailure(p, pos, floor, MSG_BAD_MSG_ID);
    this.msgId = this.num;
    p = this.readNumber(buf, p, end, 3, BYTE_MAX, SP);
    if (p < 0) return this.numberFailure(p, pos, floor, MSG_BAD_TYPE);
    this.type = this.num;
    p = this.readNumber(buf, p, end, 3, BYTE_MAX, SP);
    if (p < 0) return this.numberFailure(p, pos, floor, MSG_BAD_FLAGS);
    this.flags = this.num;
    if ((this.num & DNODE_FLAG_ENCRYPTED) !== 0 && !this.allowEncrypted) return this.fail(MSG_ENCRYPTED);
    p = this.readNumber(buf, p, end, 3, BYTE_MAX, SP);
    if (p < 0) return this.numberFailure(p, pos, floor, MSG_BAD_VERSION);
    this.version = this.num;
    p = this.readNumber(buf, p, end, 1, 1, SP);
    if (p < 0) return this.numberFailure(p, pos, floor, MSG_BAD_SAME_DC);
    this.sameDc = this.num;
    if (p >= end) return this.incomplete(pos, floor);
    if (buf[p] !== STAR) return this.fail(MSG_BAD_SAME_DC);
    p = this.readNumber(buf, p + 1, end, this.dataDigits, this.maxData, SP);
    if (p < 0) return this.numberFailure(p, pos, floor, MSG_BAD_DATA_LEN);
    const dataLen = this.num;
    this.dataStart = p;
    this.dataLen = dataLen;
    p += dataLen;
    const dataFloor = p - pos + TAIL_MIN_BYTES;
    if (dataFloor > floor) floor = dataFloor;
    if (p + 1 >= end) {
      if (p < end && buf[p] !== SP) return this.fail(MSG_BAD_AFTER_DATA);
      return this.incomplete(pos, floor);
    }
    if (buf[p] !== SP || buf[p + 1] !== STAR) return this.fail(MSG_BAD_AFTER_DATA);
    p = this.readNumber(buf, p + 2, end, this.payloadDigits, this.maxPayload, CR);
    if (p < 0) return this.numberFailure(p, pos, floor, MSG_BAD_PAYLOAD_LEN);
    if (p >= end) return this.incomplete(pos, floor);
    if (buf[p] !== LF) return this.fail(MSG_BAD_PAYLOAD_LEN);
    p++;
    const payloadLen = this.num;
    this.payloadStart = p;
    this.payloadLen = payloadLen;
    if (end - p < payloadLen) {
      this.headerLen = p - pos;
      this.dataOffset = this.dataStart - pos;
      return this.incomplete(pos, p - pos + payloadLen);
    }
    this.frameStart = pos;
    return p + payloadLen;
  }

  /**
   * A decimal number at p, ended by `terminator`: digits only, no sign, no leading zero, at most maxDigits digits
   * and at most max. Returns the offset after the terminator (value in num). Fails as soon as the bytes seen
   * cannot make a valid number, so garbage never waits for more input.
   */
  private readNumber(buf: Uint8Array, p: number, end: number, maxDigits: number, max: number, terminator: number): number {
    let v = 0;
    let i = p;
    const stop = p + maxDigits;
    for (;;) {
      if (i >= end) return NUM_INCOMPLETE;
      const c = buf[i];
      if (c === terminator && i > p) {
        this.num = v;
        return i + 1;
      }
      if (c < 48 || c > 57 || i === stop || (v === 0 && i > p)) return NUM_INVALID;
      v = v * 10 + (c - 48);
      if (v > max) return NUM_INVALID;
      i++;
    }
  }

  private numberFailure(r: number, pos: number, floor: number, message: string): number {
    return r === NUM_INCOMPLETE ? this.incomplete(pos, floor) : this.fail(message);
  }

  private incomplete(frameStart: number, needed: number): number {
    this.frameStart = frameStart;
    this.needed = needed;
    return DNODE_INCOMPLETE;
  }

  private fail(message: string): number {
    this.headerLen = 0;
    this.errorMessage = message;
    return DNODE_ERROR;
  }
}
