// Redis 7's wording for an unknown command, an unknown subcommand and a wrong argument count, built from request bytes.
// An error path, so it may allocate strings; it never changes the request and returns text without the leading '-'.
import type { CommandSpec } from './command-spec.ts';
import { findCommand } from './command-table.ts';

/**
 * Bytes as one char each (latin1), cut at `max` bytes or at a NUL as C's "%.*s" does:
 * Buffer.from(text, 'latin1') gives back the bytes Redis would send.
 */
function clip(buf: Uint8Array, off: number, len: number, max: number): string {
  let s = '';
  const n = Math.min(len, Math.max(max, 0));
  for (let i = 0; i < n; i++) {
    const b = buf[off + i];
    if (b === 0) break;
    s += String.fromCharCode(b);
  }
  return s;
}

function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/** Redis replaces CR and LF in error replies with spaces so that a client's bytes cannot break the protocol. */
function sanitize(s: string): string {
  return s.replace(/[\r\n]/g, ' ');
}

/**
 * "ERR unknown command 'foo', with args beginning with: 'a' 'b' " or, when argv[0] is a container,
 * "ERR unknown subcommand 'x'. Try CLIENT HELP.". Text is latin1 (one char per request byte).
 */
export function unknownCommandError(buf: Uint8Array, argOff: Int32Array, argLen: Int32Array, argc: number): string {
  if (argc < 1) return "ERR unknown command '', with args beginning with: ";
  const name = clip(buf, argOff[0], argLen[0], 128);
  if (argc >= 2) {
    const container = findCommand(undefined, buf, argOff[0], argLen[0]);
    if (container !== undefined && container.subcommands !== undefined) {
      const full = clip(buf, argOff[0], argLen[0], argLen[0]);
      return sanitize(`ERR unknown subcommand '${clip(buf, argOff[1], argLen[1], 128)}'. Try ${asciiUpper(full)} HELP.`);
    }
  }
  let args = '';
  for (let i = 1; i < argc && args.length < 128; i++) args += `'${clip(buf, argOff[i], argLen[i], 128 - args.length)}' `;
  return sanitize(`ERR unknown command '${name}', with args beginning with: ${args}`);
}

/** "ERR wrong number of arguments for 'get' command"; a subcommand is named 'client|setname' as Redis 7 does. */
export function wrongArityError(spec: CommandSpec): string {
  return `ERR wrong number of arguments for '${spec.name}' command`;
}
