// One request of the cluster worker's own (anti-entropy's) on a peer link, as a promise of its decoded reply.
// Never keeps the reply's bytes: they are decoded while valid (the link reuses its buffers), a failure becomes its message.
import { decodeFlatArray } from '../protocol/resp/index.ts';
import { F_NONE } from '../protocol/failure/index.ts';
import type { ClientSession, Request } from '../io/index.ts';

export type Item = number | Buffer;

/** One request on a peer link; the reply is decoded into a flat array while its bytes are valid. */
export class PeerCall implements ClientSession {
  closed = false;
  bytes = 0;
  private resolve: (r: Item[] | string) => void = () => {};
  readonly done: Promise<Item[] | string>;
  constructor() {
    this.done = new Promise((res) => (this.resolve = res));
  }
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    this.bytes = end - start;
    if (req.failure !== F_NONE) this.resolve(`peer link: ${Buffer.from(buf.subarray(start, end)).toString('utf8').trim().slice(1)}`);
    else this.resolve(decodeFlatArray(buf, start, end));
  }
  requestFinished(): void {
    this.resolve('no reply');
  }
}
