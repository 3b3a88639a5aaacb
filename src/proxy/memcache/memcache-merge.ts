// Merges for split memcached requests: multi-key get/gets/gat/gats (values back in the client's key order, one END) and flush_all.
// Never answers before every piece did; a piece that failed makes the whole reply its error line, as twemproxy does.
import type { Merge } from '../../io/index.ts';
import { valueBounds, REPLY_END, REPLY_OK } from '../../protocol/memcache/index.ts';

const EMPTY = Buffer.alloc(0);

function copyOf(buf: Uint8Array, start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start);
  b.set(buf.subarray(start, end));
  return b;
}

/** Where the key of a VALUE item starts (after "VALUE ") and ends. */
function itemKeyEquals(item: Buffer, start: number, key: Buffer): boolean {
  const ks = start + 6;
  if (item.length < ks + key.length + 1 || item[ks + key.length] !== 0x20) return false;
  for (let i = 0; i < key.length; i++) if (item[ks + i] !== key[i]) return false;
  return true;
}

export class MemcacheGetMerge implements Merge {
  private readonly parts: (Buffer | null)[];
  private error: Buffer | null = null;
  /** For key i of the client's request: which piece asked for it, and the key bytes. */
  readonly keyPart: Int32Array;
  readonly keys: Buffer[];

  constructor(pieces: number, keys: number) {
    this.parts = new Array(pieces).fill(null);
    this.keyPart = new Int32Array(keys);
    this.keys = new Array(keys);
  }

  part(index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (isError) {
      if (this.error === null) this.error = copyOf(buf, start, end);
      return;
    }
    this.parts[index] = copyOf(buf, start, end);
  }

  finish(): Uint8Array {
    if (this.error !== null) return this.error;
    const parts = this.parts as Buffer[];
    const nKeys = this.keys.length;
    // Item bounds per piece; each piece lists its hits in its own key order, misses left out.
    const bounds = parts.map((b) => {
      const out = new Int32Array(nKeys + 1);
      const n = valueBounds(b, 0, b.length, out);
      return { out, n: n < 0 ? 0 : n };
    });
    const next = new Int32Array(parts.length);
    const chunks: Buffer[] = [];
    for (let i = 0; i < nKeys; i++) {
      const p = this.keyPart[i];
      const bb = bounds[p];
      const j = next[p];
      if (j >= bb.n) continue;
      const b = parts[p];
      if (!itemKeyEquals(b, bb.out[j], this.keys[i])) continue;
      chunks.push(b.subarray(bb.out[j], bb.out[j + 1]));
      next[p] = j + 1;
    }
    chunks.push(REPLY_END);
    return Buffer.concat(chunks);
  }
}

/** flush_all to every backend: OK when all said OK; nothing at all for noreply. */
export class MemcacheAllOkMerge implements Merge {
  private error: Buffer | null = null;
  private readonly silent: boolean;

  constructor(silent: boolean) {
    this.silent = silent;
  }

  part(_index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    if (isError && this.error === null) this.error = copyOf(buf, start, end);
  }

  finish(): Uint8Array {
    if (this.silent) return EMPTY;
    return this.error ?? REPLY_OK;
  }
}
