// Write batching for one worker: backend writes leave once per event-loop turn, client replies once per I/O callback.
// Never writes per request: a request only marks its connection dirty.

import { refreshClock } from './clock.ts';
import { settleDeferred } from './out-buffer.ts';

export interface Flushable {
  flushScheduled: boolean;
  flush(): void;
}

// The lists are emptied by count, not by `length = 0`, which frees the backing store and regrows it on the
// next push (both showed in the P1 profile); entries are cleared as they are walked so nothing is retained.
const backends: (Flushable | null)[] = [];
let nBackends = 0;
let backendImmediate = false;

function flushBackends(): void {
  backendImmediate = false;
  refreshClock();
  // A flush may queue more (a failure answered locally marks clients), so walk by index.
  for (let i = 0; i < nBackends; i++) {
    const b = backends[i] as Flushable;
    backends[i] = null;
    b.flush();
  }
  nBackends = 0;
  afterIo();
}

/** Batch backend writes across all clients of this worker: one write per connection per loop turn. */
export function scheduleBackendFlush(c: Flushable): void {
  c.flushScheduled = true;
  backends[nBackends++] = c;
  if (!backendImmediate) {
    backendImmediate = true;
    setImmediate(flushBackends);
  }
}

const clients: (Flushable | null)[] = [];
let nClients = 0;

/** A client has reply bytes staged; they leave at the end of the current I/O callback. */
export function markClientDirty(c: Flushable): void {
  if (c.flushScheduled) return;
  c.flushScheduled = true;
  clients[nClients++] = c;
}

/** End of an I/O callback: write every client's staged replies. */
export function afterIo(): void {
  // The read buffer this callback read into is reused by the next one: copy what points into it first.
  settleDeferred();
  for (let i = 0; i < nClients; i++) {
    const c = clients[i] as Flushable;
    clients[i] = null;
    c.flush();
  }
  nClients = 0;
}
