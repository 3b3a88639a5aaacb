// Writes Dynomite dnode headers straight into an output buffer, so a raw RESP request can follow without copying.
// Pure: no I/O; never builds strings or allocates per header (DnodeHeaderTemplate precomputes the constant middle).
import { DNODE_MAGIC } from './dnode-types.ts';
import { MAX_DNODE_MSG_ID } from './dnode-parser.ts';

const SP = 0x20;
const STAR = 0x2a;
const MAGIC_LEN = DNODE_MAGIC.length;
// " *" before the payload length and "\r\n" after it.
const PAYLOAD_LEN_FRAMING = 4;

/** Decimal digits of a non-negative safe integer. */
export function decimalLength(v: number): number {
  let n = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    n++;
  }
  return n;
}

/** Writes v (a non-negative safe integer) in decimal at off; returns the offset after it. */
function writeDecimal(buf: Uint8Array, off: number, v: number): number {
  const len = decimalLength(v);
  let i = off + len;
  do {
    const q = Math.floor(v / 10);
    buf[--i] = 48 + (v - q * 10);
    v = q;
  } while (v > 0);
  return off + len;
}

function checkInt(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`dnode header: ${name} ${v} is not an integer in [0, ${max}]`);
}

function checkFields(type: number, flags: number, version: number, sameDc: number): void {
  checkInt('type', type, 255);
  checkInt('flags', flags, 255);
  checkInt('version', version, 255);
  checkInt('sameDc', sameDc, 1);
}

/** Bytes of the header writeDnodeHeader() writes for these fields. */
export function dnodeHeaderLength(
  msgId: number, type: number, flags: number, version: number, sameDc: number, dataLen: number, payloadLen: number,
): number {
  return MAGIC_LEN + decimalLength(msgId) + 1 + decimalLength(type) + 1 + decimalLength(flags) + 1 +
    decimalLength(version) + 1 + decimalLength(sameDc) + 2 + decimalLength(dataLen) + 1 + dataLen +
    PAYLOAD_LEN_FRAMING + decimalLength(payloadLen);
}

/**
 * Writes `"   $2014$ " msgId type flags version sameDc " *" dataLen " " data " *" payloadLen "\r\n"` at off and
 * returns the offset after it, where the payload's payloadLen bytes go. Throws RangeError on a field out of
 * range or a buffer too short (checked before any byte is written).
 */
export function writeDnodeHeader(
  buf: Uint8Array, off: number, msgId: number, type: number, flags: number, version: number, sameDc: number,
  data: Uint8Array, payloadLen: number,
): number {
  checkInt('msgId', msgId, MAX_DNODE_MSG_ID);
  checkFields(type, flags, version, sameDc);
  checkInt('payloadLen', payloadLen, 0x7fffffff);
  const len = dnodeHeaderLength(msgId, type, flags, version, sameDc, data.length, payloadLen);
  if (off < 0 || off + len > buf.length) throw new RangeError(`dnode header: ${len} bytes do not fit at ${off} in ${buf.length}`);
  buf.set(DNODE_MAGIC, off);
  let p = writeDecimal(buf, off + MAGIC_LEN, msgId);
  buf[p++] = SP;
  p = writeDecimal(buf, p, type);
  buf[p++] = SP;
  p = writeDecimal(buf, p, flags);
  buf[p++] = SP;
  p = writeDecimal(buf, p, version);
  buf[p++] = SP;
  p = writeDecimal(buf, p, sameDc);
  buf[p++] = SP;
  buf[p++] = STAR;
  p = writeDecimal(buf, p, data.length);
  buf[p++] = SP;
  buf.set(data, p);
  p += data.length;
  return writePayloadLength(buf, p, payloadLen);
}

function writePayloadLength(buf: Uint8Array, p: number, payloadLen: number): number {
  buf[p++] = SP;
  buf[p++] = STAR;
  p = writeDecimal(buf, p, payloadLen);
  buf[p++] = 0x0d;
  buf[p++] = 0x0a;
  return p;
}

/**
 * The header of one kind of message (same type, flags, version, same_dc and data) with its constant middle
 * `" type flags version sameDc *dataLen data"` encoded once; write() only adds the msg id and payload length.
 */
export class DnodeHeaderTemplate {
  private readonly middle: Uint8Array;

  constructor(type: number, flags: number, version: number, sameDc: number, data: Uint8Array) {
    checkFields(type, flags, version, sameDc);
    const text = ` ${type} ${flags} ${version} ${sameDc} *${data.length} `;
    const middle = new Uint8Array(text.length + data.length);
    for (let i = 0; i < text.length; i++) middle[i] = text.charCodeAt(i);
    middle.set(data, text.length);
    this.middle = middle;
  }

  /** Bytes write() needs for this msg id and payload length. */
  length(msgId: number, payloadLen: number): number {
    return MAGIC_LEN + decimalLength(msgId) + this.middle.length + PAYLOAD_LEN_FRAMING + decimalLength(payloadLen);
  }

  /** Same contract as writeDnodeHeader(). */
  write(buf: Uint8Array, off: number, msgId: number, payloadLen: number): number {
    checkInt('msgId', msgId, MAX_DNODE_MSG_ID);
    checkInt('payloadLen', payloadLen, 0x7fffffff);
    const len = this.length(msgId, payloadLen);
    if (off < 0 || off + len > buf.length) throw new RangeError(`dnode header: ${len} bytes do not fit at ${off} in ${buf.length}`);
    buf.set(DNODE_MAGIC, off);
    const p = writeDecimal(buf, off + MAGIC_LEN, msgId);
    buf.set(this.middle, p);
    return writePayloadLength(buf, p + this.middle.length, payloadLen);
  }
}
