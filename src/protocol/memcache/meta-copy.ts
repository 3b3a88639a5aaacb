// memcached 1.6's text commands a range copy (warm-up) uses, as pure codecs: `lru_crawler metadump` lines, `mg <key> b v f t` and
// `ms <key> <len> b T<ttl> F<flags> ME` (add: never replaces a key a write put there first). No I/O; malformed input is a message.

export interface MetaItem {
  key: Buffer;
  /** Seconds left, -1 for none. */
  ttl: number;
  flags: number;
  value: Buffer;
}

/** %XX decoding of a metadump key (keys with bytes outside printable ASCII are escaped there). */
export function percentDecode(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c & 0xff);
  }
  return Buffer.from(out);
}

/** The keys of an `lru_crawler metadump` reply (lines `key=<escaped> exp=<unix s|-1> ...`, then END); a line without key= is skipped. */
export function parseMetadump(reply: Buffer): Buffer[] {
  const keys: Buffer[] = [];
  for (const line of reply.toString('latin1').split('\n')) {
    const m = /^key=(\S+)/.exec(line);
    if (m !== null) keys.push(percentDecode(m[1]));
  }
  return keys;
}

export function encodeMetaGets(keys: readonly Buffer[]): Buffer {
  return Buffer.from(keys.map((k) => `mg ${k.toString('base64')} b v f t\r\n`).join(''), 'latin1');
}

/**
 * The replies of `n` pipelined meta gets from the start of buf: per key its item (null for a miss, or the error line's text), with the
 * bytes they take; null while incomplete.
 */
export function parseMetaGets(buf: Buffer, n: number, keys: readonly Buffer[]): { items: (MetaItem | string | null)[]; end: number } | null {
  const items: (MetaItem | string | null)[] = [];
  let p = 0;
  while (items.length < n) {
    const nl = buf.indexOf('\r\n', p);
    if (nl < 0) return null;
    const line = buf.toString('latin1', p, nl);
    if (line.startsWith('EN')) {
      items.push(null);
      p = nl + 2;
      continue;
    }
    const m = /^VA (\d+)(.*)$/.exec(line);
    if (m === null) {
      items.push(line.slice(0, 200));
      p = nl + 2;
      continue;
    }
    const len = Number(m[1]);
    if (buf.length < nl + 2 + len + 2) return null;
    const flags = /(?:^| )f(\d+)/.exec(m[2]);
    const ttl = /(?:^| )t(-?\d+)/.exec(m[2]);
    items.push({ key: keys[items.length], ttl: ttl === null ? -1 : Number(ttl[1]), flags: flags === null ? 0 : Number(flags[1]), value: Buffer.from(buf.subarray(nl + 2, nl + 2 + len)) });
    p = nl + 2 + len + 2;
  }
  return { items, end: p };
}

/** Meta sets in add mode (ME): a key already present is left as it is (NS). A ttl of 0 means none. */
export function encodeMetaAdds(items: readonly MetaItem[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    parts.push(Buffer.from(`ms ${it.key.toString('base64')} ${it.value.length} b T${it.ttl > 0 ? it.ttl : 0} F${it.flags >>> 0} ME\r\n`, 'latin1'), it.value, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Meta deletes (`md <key> b`): a purge's step. Their replies are lines too (HD deleted, NF not there): parseMetaSets reads them. */
export function encodeMetaDeletes(keys: readonly Buffer[]): Buffer {
  return Buffer.from(keys.map((k) => `md ${k.toString('base64')} b\r\n`).join(''), 'latin1');
}

/** The replies of `n` pipelined meta sets: 1 stored (HD), 0 not stored (NS: the key was there), else the line; null while incomplete. */
export function parseMetaSets(buf: Buffer, n: number): { results: (number | string)[]; end: number } | null {
  const results: (number | string)[] = [];
  let p = 0;
  while (results.length < n) {
    const nl = buf.indexOf('\r\n', p);
    if (nl < 0) return null;
    const line = buf.toString('latin1', p, nl);
    results.push(line.startsWith('HD') ? 1 : line.startsWith('NS') ? 0 : line.slice(0, 200));
    p = nl + 2;
  }
  return { results, end: p };
}
