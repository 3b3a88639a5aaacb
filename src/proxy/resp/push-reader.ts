// The pieces the proxy's own side connections share (pub/sub hub, tracking invalidations, read repair, blocking effects):
// a RESP command encoder for the few requests they make, and a reader that splits a socket's bytes into whole replies.
// Never on the request path: these connections carry pushes and a handful of requests, so they may copy and allocate.
import { RespReplyScanner } from '../../protocol/resp/index.ts';

/** A command as a RESP array of bulk strings; strings are encoded as `encoding` (latin1 for names that came as client bytes). */
export function respCommand(args: readonly (string | Uint8Array)[], encoding: BufferEncoding = 'utf8'): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const x of args) {
    const b = typeof x === 'string' ? Buffer.from(x, encoding) : Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Splits a connection's bytes into whole RESP replies (RESP2 or RESP3, pushes included), keeping a partial one for the next read. */
export class ReplyReader {
  private rest: Buffer | null = null;
  private readonly scanner = new RespReplyScanner();

  /** Calls onFrame for each whole reply in buf[start, end); false when the stream is not RESP (the caller closes it). */
  feed(chunk: Buffer, onFrame: (buf: Buffer, start: number, end: number) => void): boolean {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let pos = 0;
    while (pos < buf.length) {
      const end = this.scanner.scan(buf, pos, buf.length);
      if (end === 0) {
        this.rest = Buffer.from(buf.subarray(pos));
        return true;
      }
      if (end < 0) return false;
      onFrame(buf, pos, end);
      pos = end;
    }
    return true;
  }

  reset(): void {
    this.rest = null;
    this.scanner.reset();
  }
}
