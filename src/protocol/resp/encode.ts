// RESP writers into a caller-provided Buffer at an offset, and the lengths they will write: rebuild split requests, merge replies.
// Never allocates and never checks room: the caller sizes the Buffer with the *Length helpers first.

// Small copies are faster as a byte loop than through the native copy's call overhead (measured on Node 24).
const LOOP_COPY_MAX = 64;
const copyBytes = Buffer.prototype.copy;

/** Decimal digits of a non-negative integer (a minus sign is counted by the callers that allow negatives). */
export function decimalLength(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

function integerTextLength(n: number): number {
  return n < 0 ? 1 + decimalLength(-n) : decimalLength(n);
}

/** `*n\r\n` */
export function arrayHeaderLength(n: number): number {
  return 3 + integerTextLength(n);
}

/** `$len\r\n<len bytes>\r\n` */
export function bulkLength(len: number): number {
  return 5 + decimalLength(len) + len;
}

/** `:n\r\n` */
export function integerLength(n: number): number {
  return 3 + integerTextLength(n);
}

/** `+text\r\n` or `-text\r\n` (text as UTF-8) */
export function simpleLength(text: string): number {
  return 3 + Buffer.byteLength(text, 'utf8');
}

// Writes the decimal text of an integer (safe-integer range) and returns the offset after it.
function writeDecimal(buf: Buffer, off: number, n: number): number {
  if (n < 0) {
    buf[off++] = 45;
    n = -n;
  }
  if (n < 10) {
    buf[off] = 48 + n;
    return off + 1;
  }
  const stop = off + decimalLength(n);
  let i = stop;
  while (n > 0) {
    const q = Math.floor(n / 10);
    buf[--i] = 48 + (n - q * 10);
    n = q;
  }
  return stop;
}

function writeCrlf(buf: Buffer, off: number): number {
  buf[off] = 13;
  buf[off + 1] = 10;
  return off + 2;
}

/** `*n\r\n` at off; returns the offset after it. n = -1 writes the RESP2 null array. */
export function writeArrayHeader(buf: Buffer, off: number, n: number): number {
  buf[off] = 42;
  return writeCrlf(buf, writeDecimal(buf, off + 1, Math.trunc(n)));
}

/** `$len\r\n` at off; returns the offset after it (the payload goes there). */
export function writeBulkHeader(buf: Buffer, off: number, len: number): number {
  buf[off] = 36;
  return writeCrlf(buf, writeDecimal(buf, off + 1, len));
}

/** Raw bytes src[srcStart, srcEnd) at off; returns the offset after them. */
export function writeBytes(buf: Buffer, off: number, src: Uint8Array, srcStart: number, srcEnd: number): number {
  const n = srcEnd - srcStart;
  if (n <= LOOP_COPY_MAX) {
    for (let i = 0; i < n; i++) buf[off + i] = src[srcStart + i];
  } else {
    copyBytes.call(src, buf, off, srcStart, srcEnd);
  }
  return off + n;
}

/** A bulk string holding src[srcStart, srcEnd); returns the offset after it. */
export function writeBulk(buf: Buffer, off: number, src: Uint8Array, srcStart: number, srcEnd: number): number {
  off = writeBulkHeader(buf, off, srcEnd - srcStart);
  off = writeBytes(buf, off, src, srcStart, srcEnd);
  return writeCrlf(buf, off);
}

/** A bulk string holding text as UTF-8 (size it with bulkLength(Buffer.byteLength(text))). */
export function writeBulkString(buf: Buffer, off: number, text: string): number {
  off = writeBulkHeader(buf, off, Buffer.byteLength(text, 'utf8'));
  off += buf.write(text, off, 'utf8');
  return writeCrlf(buf, off);
}

/** `:n\r\n`; n must be a safe integer (it is truncated toward zero otherwise). */
export function writeInteger(buf: Buffer, off: number, n: number): number {
  buf[off] = 58;
  return writeCrlf(buf, writeDecimal(buf, off + 1, Math.trunc(n)));
}

// A simple line must stay one line: CR and LF become spaces, as Redis does for its error replies.
function writeLine(buf: Buffer, off: number, type: number, text: string): number {
  buf[off] = type;
  const start = off + 1;
  const stop = start + buf.write(text, start, 'utf8');
  for (let i = start; i < stop; i++) if (buf[i] === 13 || buf[i] === 10) buf[i] = 32;
  return writeCrlf(buf, stop);
}

/** `+text\r\n` */
export function writeSimple(buf: Buffer, off: number, text: string): number {
  return writeLine(buf, off, 43, text);
}

/** `-text\r\n`; text starts with the error code, e.g. "ERR no such key". */
export function writeError(buf: Buffer, off: number, text: string): number {
  return writeLine(buf, off, 45, text);
}
