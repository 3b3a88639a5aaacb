// Stores every key of a workload's key ring once (pipelined SETs on one connection), so GET and MGET find values.
// Never runs without a deadline and never leaves its connection open.
import { connect } from 'node:net';
import type { Workload } from './load-spec.ts';
import { MemcacheReplyCounter, RespReplyCounter } from './reply-counters.ts';
import { RequestRing } from './request-ring.ts';

const BATCH = 100;

export async function fillKeys(host: string, port: number, workload: Workload, deadlineMs = 30_000): Promise<void> {
  const w: Workload = { ...workload, command: 'set' };
  const ring = new RequestRing(w, BATCH);
  const counter = w.protocol === 'resp' ? new RespReplyCounter() : new MemcacheReplyCounter();
  const socket = connect({ host, port, noDelay: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`filling ${w.keyCount} keys on ${host}:${port} took over ${deadlineMs} ms`)), deadlineMs);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      };
      let sent = 0;
      let answered = 0;
      const sendMore = (): void => {
        const n = Math.min(BATCH, w.keyCount - sent);
        socket.write(ring.run(sent, n));
        sent += n;
      };
      socket.once('connect', sendMore);
      socket.on('error', (err) => finish(err));
      socket.on('data', (chunk: Buffer) => {
        answered += counter.feed(chunk, 0, chunk.length);
        if (counter.broken || counter.errors > 0) return finish(new Error(`filling keys on ${host}:${port}: the server answered with an error`));
        if (answered >= w.keyCount) return finish();
        if (answered === sent) sendMore();
      });
    });
  } finally {
    socket.destroy();
  }
}
