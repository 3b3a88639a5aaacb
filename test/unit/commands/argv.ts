// Test helper: lays out request arguments inside one bigger buffer, at offsets, as a RESP parser would report them.
// Test-only: never used by src/.

export interface Argv {
  buf: Uint8Array;
  off: Int32Array;
  len: Int32Array;
  argc: number;
  out: Int32Array;
}

/** Arguments as strings (latin1) or bytes, each preceded by filler bytes so that no offset is 0. */
export function argv(...args: (string | Uint8Array)[]): Argv {
  const parts = args.map((a) => (typeof a === 'string' ? Buffer.from(a, 'latin1') : Buffer.from(a)));
  const filler = Buffer.from('#$\r\n');
  const buf = Buffer.alloc(filler.length * (parts.length + 1) + parts.reduce((n, p) => n + p.length, 0), 0x7a);
  const off = new Int32Array(parts.length);
  const len = new Int32Array(parts.length);
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    pos += filler.copy(buf, pos);
    off[i] = pos;
    len[i] = parts[i].length;
    pos += parts[i].copy(buf, pos);
  }
  return { buf, off, len, argc: parts.length, out: new Int32Array(Math.max(parts.length, 1)) };
}

/** Split a command line on spaces: "SET k v" -> argv('SET', 'k', 'v'). */
export function line(s: string): Argv {
  return argv(...s.split(' '));
}
