// Splits one inline (telnet-style) request line into arguments with Redis's sdssplitargs quoting rules.
// Pure and allocation-free: unescaped bytes go to a caller-owned scratch buffer; it never does I/O.

/** Where the splitter writes: a scratch buffer at least as long as the line, and growable offset arrays. */
export interface InlineArgSink {
  scratch: Uint8Array;
  argOff: Int32Array;
  argLen: Int32Array;
  /** Make argOff/argLen hold at least n entries (grows by doubling). */
  ensureArgCapacity(n: number): void;
}

export const INLINE_UNBALANCED = -1;

// C isspace() in the "C" locale: the set sdssplitargs skips between arguments and requires after a closing quote.
function isCSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Split src[start, end) (the line without its "\n" / "\r\n") into sink. Returns argc, or INLINE_UNBALANCED
 * for Redis's "unbalanced quotes" cases: an unterminated quote, or a closing quote followed by a non-space.
 * The caller guarantees the line holds no NUL byte (Redis never sees past one; see request-parser.ts).
 */
export function splitInlineArgs(src: Uint8Array, start: number, end: number, sink: InlineArgSink): number {
  const out = sink.scratch;
  let p = start;
  let w = 0;
  let argc = 0;
  for (;;) {
    while (p < end && isCSpace(src[p])) p++;
    if (p >= end) return argc;
    const argStart = w;
    let inDouble = false;
    let inSingle = false;
    for (;;) {
      if (inDouble) {
        if (p >= end) return INLINE_UNBALANCED;
        const c = src[p];
        if (c === 92 /* \ */ && p + 3 < end && src[p + 1] === 120 /* x */) {
          const hi = hexValue(src[p + 2]);
          const lo = hexValue(src[p + 3]);
          if (hi >= 0 && lo >= 0) {
            out[w++] = (hi << 4) | lo;
            p += 4;
            continue;
          }
        }
        if (c === 92 && p + 1 < end) {
          p++;
          const e = src[p];
          // The escapes sdssplitargs knows; any other escaped byte stands for itself.
          out[w++] = e === 110 ? 10 : e === 114 ? 13 : e === 116 ? 9 : e === 98 ? 8 : e === 97 ? 7 : e;
          p++;
        } else if (c === 34 /* " */) {
          if (p + 1 < end && !isCSpace(src[p + 1])) return INLINE_UNBALANCED;
          p++;
          break;
        } else {
          out[w++] = c;
          p++;
        }
      } else if (inSingle) {
        if (p >= end) return INLINE_UNBALANCED;
        const c = src[p];
        if (c === 92 && p + 1 < end && src[p + 1] === 39 /* ' */) {
          out[w++] = 39;
          p += 2;
        } else if (c === 39) {
          if (p + 1 < end && !isCSpace(src[p + 1])) return INLINE_UNBALANCED;
          p++;
          break;
        } else {
          out[w++] = c;
          p++;
        }
      } else {
        if (p >= end) break;
        const c = src[p];
        // Unquoted arguments end only on these four (not on \v or \f, which sdssplitargs keeps as bytes).
        if (c === 32 || c === 10 || c === 13 || c === 9) {
          p++;
          break;
        }
        if (c === 34) inDouble = true;
        else if (c === 39) inSingle = true;
        else out[w++] = c;
        p++;
      }
    }
    if (argc >= sink.argOff.length) sink.ensureArgCapacity(argc + 1);
    sink.argOff[argc] = argStart;
    sink.argLen[argc] = w - argStart;
    argc++;
  }
}
