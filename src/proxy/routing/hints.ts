// Hinted handoff in a data worker: the HintKeeper (hints/) over this worker's cluster links, its queues indexed by the view's nodes.
// Never hints an ambiguous failure of a non-idempotent write; never lets a new write to a target overtake its hints (cluster-replicate.ts).
import { HintKeeper, type HintLimits, type HintQueue, type HintTargets, type HintWords } from '../../hints/index.ts';
import { PEER_DATASTORE_DOWN, PEER_UP } from '../../peer/index.ts';
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

/**
 * A node that came back is not read from for this long (3 heartbeats, at least 2 s): the other coordinators see it up a
 * heartbeat or two apart and replay the writes it missed only then, so until they did it would answer nil for keys that exist.
 */
function recoveryGraceMs(gossipInterval: number): number {
  return Math.max(2000, 3 * Math.max(100, Math.min(gossipInterval > 0 ? gossipInterval : 1000, 1000)));
}

/** One pool's hints in this worker: the keeper, and the view's queues by node index. */
export class Hints extends HintKeeper implements HintRouting {
  /** By node index of the runtime's view: the node's queue (null: this node). */
  byNode: (HintQueue | null)[] = [];
  /** By node index: 1 while the node is in its recovery grace (came back less than recoveryGraceMs ago). */
  recovering = new Uint8Array(0);
  private wasDown = new Uint8Array(0);
  private graceUntil = new Float64Array(0);
  /** By node index: 1 once the node was seen up (a node down since before that, e.g. at start, gets no grace when it comes up). */
  private seenUp = new Uint8Array(0);
  /** The node identities the three arrays above are indexed by. */
  private ids: string[] = [];
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
    // Every verdict republishes the view: the nodes' down/recovering state carries over by identity.
    const nodes = cl.view.nodes;
    const recovering = new Uint8Array(nodes.length);
    const wasDown = new Uint8Array(nodes.length);
    const graceUntil = new Float64Array(nodes.length);
    const seenUp = new Uint8Array(nodes.length);
    for (let i = 0; i < nodes.length; i++) {
      const j = this.ids.indexOf(nodes[i].id);
      if (j < 0) continue;
      recovering[i] = this.recovering[j];
      wasDown[i] = this.wasDown[j];
      graceUntil[i] = this.graceUntil[j];
      seenUp[i] = this.seenUp[j];
    }
    this.ids = nodes.map((n) => n.id);
    this.recovering = recovering;
    this.wasDown = wasDown;
    this.graceUntil = graceUntil;
    this.seenUp = seenUp;
  }

  /** Whether reads should skip `node`: it came back a moment ago (the writes it missed may still be on their way). */
  isRecovering(node: number): boolean {
    // Down when the timer last looked and up now: back since, the timer has not started its grace yet.
    return node < this.recovering.length && (this.recovering[node] === 1 || (this.wasDown[node] === 1 && this.seenUp[node] === 1));
  }

  override tick(now: number): void {
    const cl = this.cl;
    cl.current();
    // Down -> up transitions of a node seen up before (an outage, not a start) begin its recovery grace.
    const grace = recoveryGraceMs(cl.gossipInterval());
    const states = cl.states;
    for (let i = 0; i < this.byNode.length; i++) {
      if (this.byNode[i] === null) continue;
      const down = cl.isDown(i) ? 1 : 0;
      if (this.wasDown[i] === 1 && down === 0 && this.seenUp[i] === 1) {
        this.recovering[i] = 1;
        this.graceUntil[i] = now + grace;
      } else if (this.recovering[i] === 1 && (down === 1 || now >= this.graceUntil[i])) this.recovering[i] = 0;
      this.wasDown[i] = down;
      if (down === 0 && states !== null && states.state(i) === PEER_UP) this.seenUp[i] = 1;
    }
    super.tick(now);
  }
}
