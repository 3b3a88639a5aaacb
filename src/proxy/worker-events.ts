// Rare events a data worker reports to the supervisor's log (a worker thread has no logger): the sink is set once by proxy/worker.ts.
// Never used on the request path: only for events that are rate-limited where they arise (a peer link closing).
import type { ConnectionFault, FromWorker, HintsEvent, PeerLinkClosed } from '../messages.ts';

let sink: ((m: FromWorker) => void) | null = null;
let workerId = -1;

/** Called once by the worker entry: where events go, and which worker they come from. */
export function setWorkerEventSink(id: number, post: (m: FromWorker) => void): void {
  workerId = id;
  sink = post;
}

/** A peer link failed or was closed by the other side (see peer-link.ts for the rate limit). */
export function reportPeerLinkClosed(link: PeerLinkClosed): void {
  sink?.({ type: 'peer-link-closed', workerId, link });
}

/** Hints dropped, loaded or found corrupt (the hint store rate-limits drops: one report per target per interval). */
export function reportHintsEvent(event: HintsEvent): void {
  sink?.({ type: 'hints-event', workerId, event });
}

/** A peer's gossip records for the cluster worker (relayed by the supervisor); `dynomite`: a Dynomite GOSSIP_SYN frame. */
export function reportGossip(payload: Uint8Array, from: string, dynomite: boolean): void {
  sink?.({ type: 'gossip-in', workerId, payload, from, dynomite });
}

let numsubSeq = 0;
const numsubWaiting = new Map<number, (counts: number[]) => void>();

/** PUBSUB NUMSUB over every worker of this process (through the supervisor); this worker's own counts if no answer in 2 s. */
export function askNumsub(pool: string, kind: number, names: string[], own: () => number[]): Promise<number[]> {
  if (sink === null) return Promise.resolve(own());
  const reqId = ++numsubSeq;
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      numsubWaiting.delete(reqId);
      resolve(own());
    }, 2000);
    t.unref();
    numsubWaiting.set(reqId, (counts) => {
      clearTimeout(t);
      resolve(counts);
    });
    sink?.({ type: 'numsub-ask', workerId, reqId, pool, kind, names });
  });
}

/** The supervisor's sum for a numsub-ask of this worker. */
export function numsubAnswered(reqId: number, counts: number[]): void {
  const f = numsubWaiting.get(reqId);
  numsubWaiting.delete(reqId);
  f?.(counts);
}

/** This worker's counts for the supervisor (numsub-count). */
export function reportNumsub(reqId: number, counts: number[]): void {
  sink?.({ type: 'numsub-counts', workerId, reqId, counts });
}

let faultSeq = 0;
let faultWindowStart = 0;
let faultsInWindow = 0;
let faultsUnreported = 0;
const FAULT_WINDOW_MS = 1000;
const FAULTS_PER_WINDOW = 5;

/** The next incident code, named in the client's error reply and in the log line (`E<worker>-<n>`). */
export function nextFaultCode(): string {
  return `E${workerId}-${++faultSeq}`;
}

/** A connection fault for the log: at most FAULTS_PER_WINDOW lines a second per worker, the rest counted in the next line's `repeats`. */
export function reportConnectionFault(fault: Omit<ConnectionFault, 'repeats'>): void {
  const now = Date.now();
  if (now - faultWindowStart >= FAULT_WINDOW_MS) {
    faultWindowStart = now;
    faultsInWindow = 0;
  }
  if (++faultsInWindow > FAULTS_PER_WINDOW) {
    faultsUnreported++;
    return;
  }
  const repeats = faultsUnreported;
  faultsUnreported = 0;
  sink?.({ type: 'connection-fault', workerId, fault: { ...fault, repeats } });
}
