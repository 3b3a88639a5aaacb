// ClusterWords: each protocol's words for the answers cluster routing makes itself, and the one place that picks between them.
// Never builds a reply itself: the words are the protocol adapter's (protocol-adapter.ts).
import { failRequest, type Request } from '../../io/index.ts';
import { F_NO_BACKEND, F_PEER_DOWN } from '../../protocol/failure/index.ts';
import type { ClusterRuntime } from './cluster-runtime.ts';

/** A protocol's words for the answers cluster routing makes itself. */
export interface ClusterWords {
  /** The node that owns the key is down or not connected. */
  readonly peerDown: Buffer;
  /** This node owns the key but none of its datastore servers is live (all ejected). */
  readonly noBackend: Buffer;
  /** DC_SAFE_QUORUM / DC_EACH_SAFE_QUORUM found no majority. */
  readonly noQuorum: Buffer;
  /** noBackend with why, when the servers were ejected for a reason the user must fix (the datastore refuses the proxy's AUTH). */
  noBackendBecause(reason: string): Buffer;
}

/** No upstream for `node`: a peer known down, or this node with every datastore server ejected — each named as what it is. */
export function failUnroutable(cl: ClusterRuntime, node: number, req: Request, words: ClusterWords): void {
  if (cl.links[node] === null) {
    const why = cl.localRefusal();
    failRequest(req, F_NO_BACKEND, why === null ? words.noBackend : words.noBackendBecause(why));
  } else failRequest(req, F_PEER_DOWN, words.peerDown);
}
