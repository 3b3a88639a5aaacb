// How long a blocking command may block, read from its arguments (BLPOP ... timeout, BLMPOP timeout ..., XREAD ... BLOCK ms ...).
// Pure: never touches a connection; the proxy uses the figure to give the call a connection of its own and a deadline.
import { F_BLOCKING, type CommandSpec } from './command-spec.ts';

/** Not blocking (no BLOCK option, or not a blocking command). */
export const NOT_BLOCKING = -1;

function text(buf: Uint8Array, off: number, len: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('latin1');
}

/** Seconds as Redis reads a blocking timeout (a float); anything unreadable blocks "forever" here: Redis answers it at once. */
function secondsToMs(s: string): number {
  const v = Number(s);
  return Number.isFinite(v) && v > 0 ? Math.ceil(v * 1000) : 0;
}

/**
 * For a command with the blocking flag: its timeout in ms (0: forever), or NOT_BLOCKING when this form does not block (XREAD /
 * XREADGROUP without BLOCK). argv[0] is the command name.
 */
export function blockTimeoutMs(spec: CommandSpec, buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number): number {
  if ((spec.flags & F_BLOCKING) === 0) return NOT_BLOCKING;
  switch (spec.name) {
    case 'blmpop':
    case 'bzmpop':
      return argc > 1 ? secondsToMs(text(buf, argOff[1], argLen[1])) : 0;
    case 'xread':
    case 'xreadgroup':
      for (let i = 1; i + 1 < argc; i++) {
        const w = text(buf, argOff[i], argLen[i]).toLowerCase();
        if (w === 'streams') break;
        if (w === 'block') {
          const v = Number(text(buf, argOff[i + 1], argLen[i + 1]));
          return Number.isFinite(v) && v > 0 ? Math.ceil(v) : 0;
        }
      }
      return NOT_BLOCKING;
    default:
      return secondsToMs(text(buf, argOff[argc - 1], argLen[argc - 1]));
  }
}
