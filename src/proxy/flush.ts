// Write batching for one worker: backend writes leave once per event-loop turn, client replies once per I/O callback.
// Never writes per request: a request only marks its connection dirty.

import { refreshClock } from './clock.ts';
import { settleDeferred } from './out-buffer.ts';

export interface Flushable {
  flushScheduled: boolean;
  flush(): void;
}

const backends: Flushable[] = [];
let backendImmediate = false;

function flushBackends(): void {
  backendImmediate = false;
  refreshClock();
  // A flush may queue more (a failure answered locally marks clients), so walk by index.
  for (let i = 0; i < backends.length; i++) backends[i].flush();
  backends.length = 0;
  afterIo();
}

/** Batch backend writes across all clients of this worker: one write per connection per loop turn. */
export function scheduleBackendFlush(c: Flushable): void {
  c.flushScheduled = true;
  backends.push(c);
  if (!backendImmediate) {
    backendImmediate = true;
    setImmediate(flushBackends);
  }
}

const clients: Flushable[] = [];

/** A client has reply bytes staged; they leave at the end of the current I/O callback. */
export function markClientDirty(c: Flushable): void {
  if (c.flushScheduled) return;
  c.flushScheduled = true;
  clients.push(c);
}

/** End of an I/O callback: write every client's staged replies. */
export function afterIo(): void {
  // The read buffer this callback read into is reused by the next one: copy what points into it first.
  settleDeferred();
  for (let i = 0; i < clients.length; i++) clients[i].flush();
  clients.length = 0;
}
