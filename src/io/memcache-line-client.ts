// A small memcached text-protocol client for work off the request path (warm-up's copy: lru_crawler metadump, mg, ms, stats):
// one request at a time on one socket, reconnecting on demand. Never used by the request path; never buffers more than one reply.
import net from 'node:net';

/** How much of `buf` one whole reply takes (bytes), or -1 while it is incomplete. */
export type ReplyEnd = (buf: Buffer) => number;

/** A reply that ends with a line equal to `last` (e.g. "END"), or one error line (ERROR, CLIENT_ERROR, SERVER_ERROR). */
export function endsWithLine(last: string): ReplyEnd {
  // metadump ends its lines with a bare LF, stats with CRLF: both end with LF, the last line, CRLF.
  const tail = Buffer.from(`\n${last}\r\n`);
  const head = Buffer.from(`${last}\r\n`);
  return (buf) => {
    if (buf.length >= head.length && buf.subarray(0, head.length).equals(head)) return head.length;
    if (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)/.test(buf.toString('latin1', 0, Math.min(buf.length, 13)))) {
      const nl = buf.indexOf('\r\n');
      return nl < 0 ? -1 : nl + 2;
    }
    const i = buf.indexOf(tail);
    return i < 0 ? -1 : i + tail.length;
  };
}

export class MemcacheLineClient {
  private readonly host: string;
  private readonly port: number;
  private readonly timeoutMs: number;
  private socket: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(host: string, port: number, timeoutMs = 10_000) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
  }

  private connect(): Promise<net.Socket> {
    if (this.socket !== null && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.connecting !== null) return this.connecting;
    this.connecting = new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const fail = (err: Error): void => {
        this.connecting = null;
        s.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error('connect timeout')), 2000);
      s.once('error', fail);
      s.once('connect', () => {
        clearTimeout(timer);
        s.off('error', fail);
        s.on('error', () => s.destroy());
        this.connecting = null;
        this.socket = s;
        resolve(s);
      });
    });
    return this.connecting;
  }

  /** Send `bytes` and resolve with the whole reply (as `end` finds it); requests are queued, one on the wire at a time. */
  request(bytes: Buffer | string, end: ReplyEnd): Promise<Buffer> {
    const run = async (): Promise<Buffer> => {
      if (this.closed) throw new Error('closed');
      const s = await this.connect();
      return new Promise<Buffer>((resolve, reject) => {
        let buf: Buffer = Buffer.alloc(0);
        const done = (err: Error | null, reply?: Buffer): void => {
          clearTimeout(timer);
          s.off('data', onData);
          s.off('close', onClose);
          if (err !== null) {
            // The reply stream is lost with the request: the next request starts on a fresh connection.
            s.destroy();
            reject(err);
          } else resolve(reply!);
        };
        const onData = (chunk: Buffer): void => {
          buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
          const n = end(buf);
          if (n >= 0) done(null, buf.subarray(0, n));
        };
        const onClose = (): void => done(new Error('connection closed'));
        const timer = setTimeout(() => done(new Error('timeout')), this.timeoutMs);
        s.on('data', onData);
        s.once('close', onClose);
        s.write(bytes);
      });
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => {});
    return p;
  }

  /** `stats`: name -> value. */
  async stats(): Promise<Map<string, string>> {
    const reply = await this.request('stats\r\n', endsWithLine('END'));
    const out = new Map<string, string>();
    for (const line of reply.toString('latin1').split('\r\n')) {
      const m = /^STAT (\S+) (.*)$/.exec(line);
      if (m !== null) out.set(m[1], m[2]);
    }
    return out;
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = null;
  }
}
