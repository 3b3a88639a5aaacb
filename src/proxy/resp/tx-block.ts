// A MULTI transaction as bytes: the commands a client queued (TxState) and the MULTI..EXEC block made of them.
// Never sends anything: BackendServer.sendBlock puts a block on one connection in one synchronous call.
import type { BackendServer } from '../../io/index.ts';

export const MULTI = Buffer.from('*1\r\n$5\r\nMULTI\r\n');
export const EXEC = Buffer.from('*1\r\n$4\r\nEXEC\r\n');

/** The transaction a client is queueing: its commands' bytes back to back, and where each ends. */
export class TxState {
  /** Commands queued (or refused: counted so max_tx_commands holds whatever the client sends). */
  count = 0;
  dirty = false;
  /** Single-node pools: the one backend every key maps to. */
  server: BackendServer | null = null;
  /** Cluster nodes: the hash every key shares (NaN before the first key), the first key's bytes, and whether anything writes. */
  hash = Number.NaN;
  key: Buffer | null = null;
  write = false;
  buf = Buffer.allocUnsafe(4096);
  len = 0;
  ends: number[] = [];

  append(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.len + n > this.buf.length) {
      const nb = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(nb, 0, 0, this.len);
      this.buf = nb;
    }
    this.buf.set(src.subarray(start, end), this.len);
    this.len += n;
    this.ends.push(this.len);
  }

  /** A refused transaction keeps nothing: EXEC will abort it anyway. */
  drop(): void {
    this.dirty = true;
    this.len = 0;
    this.ends.length = 0;
    if (this.buf.length > 4096) this.buf = Buffer.allocUnsafe(4096);
  }

  /** MULTI, the queued commands, EXEC: the block a peer or a replica receives as one request. */
  block(): Buffer {
    const b = Buffer.allocUnsafe(MULTI.length + this.len + EXEC.length);
    MULTI.copy(b, 0);
    this.buf.copy(b, MULTI.length, 0, this.len);
    EXEC.copy(b, MULTI.length + this.len);
    return b;
  }

  /** Where MULTI and each queued command end inside block(). */
  blockEnds(): number[] {
    const out = [MULTI.length];
    for (const e of this.ends) out.push(e + MULTI.length);
    return out;
  }
}
