// Rare events a data worker reports to the supervisor's log (a worker thread has no logger): the sink is set once by proxy/worker.ts.
// Never used on the request path: only for events that are rate-limited where they arise (a peer link closing).
import type { FromWorker, HintsEvent, PeerLinkClosed } from '../messages.ts';

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
