// Hinted handoff in a data worker: the HintKeeper (hints/) over this worker's cluster links, its queues indexed by the view's nodes.
// Never hints an ambiguous failure of a non-idempotent write; never lets a new write to a target overtake its hints (cluster-replicate.ts).
import { HintKeeper, type HintLimits, type HintQueue, type HintTargets, type HintWords } from '../../hints/index.ts';
import { PEER_DATASTORE_DOWN } from '../../peer/index.ts';
import type { BackendServer } from '../../io/index.ts';
import type { HintsEvent } from '../../messages.ts';
import type { ClusterRuntime, HintRouting } from './cluster-runtime.ts';

class RuntimeTargets implements HintTargets {
  private readonly cl: ClusterRuntime;
  constructor(cl: ClusterRuntime) {
    this.cl = cl;
  }
  linkOf(node: number): BackendServer | null {
    return this.cl.links[node] ?? null;
  }
  ready(node: number): boolean {
    const cl = this.cl;
    if (cl.isDown(node)) return false;
    // A node up whose datastore is down would refuse them all: wait for the detector to see it serving.
    return cl.states === null || cl.states.state(node) !== PEER_DATASTORE_DOWN;
  }
}

/** One pool's hints in this worker: the keeper, and the view's queues by node index. */
export class Hints extends HintKeeper implements HintRouting {
  /** By node index of the runtime's view: the node's queue (null: this node). */
  byNode: (HintQueue | null)[] = [];
  private readonly cl: ClusterRuntime;

  constructor(cl: ClusterRuntime, limits: HintLimits, words: HintWords, report: (e: HintsEvent) => void) {
    super(new RuntimeTargets(cl), limits, words, report);
    this.cl = cl;
    this.relink();
  }

  /** The view changed (or at start): queues follow node identities. */
  relink(): void {
    const cl = this.cl;
    this.detachAll();
    this.byNode = cl.view.nodes.map((n, i) => {
      const link = cl.links[i];
      if (n.local || link === null || link === undefined) return null;
      return this.attach(n.id, i, link.st);
    });
  }

  override tick(now: number): void {
    if (this.store.count > 0) this.cl.current();
    super.tick(now);
  }
}
