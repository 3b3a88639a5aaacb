// PeerStates: each cluster node's liveness as the cluster worker's failure detector sees it, plus the operator's overrides, in one SharedArrayBuffer.
// Never locks: one writer per word (the cluster worker for states, the supervisor for overrides); data workers read with Atomics.load per request.

export const PEER_UNKNOWN = 0;
export const PEER_UP = 1;
export const PEER_DOWN = 2;
/** The node answers but its datastore does not: requests reach it and get the datastore's error; reads fail over. */
export const PEER_DATASTORE_DOWN = 3;
/**
 * The node and its datastore answer, but the datastore is being warmed up (its copy of its token range is under way): writes go
 * to it as usual, reads go to the next replica. The local node's own word says so for this node (the cluster worker's warm-up).
 */
export const PEER_WARMING = 4;

export const OVERRIDE_NONE = 0;
export const OVERRIDE_UP = 1;
export const OVERRIDE_DOWN = 2;

export class PeerStates {
  readonly sab: SharedArrayBuffer;
  readonly nodes: number;
  private readonly a: Int32Array;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.a = new Int32Array(sab);
    this.nodes = this.a.length >> 1;
  }

  static create(nodes: number): PeerStates {
    return new PeerStates(new SharedArrayBuffer(Math.max(1, nodes) * 2 * 4));
  }

  state(node: number): number {
    return Atomics.load(this.a, node);
  }

  setState(node: number, s: number): void {
    Atomics.store(this.a, node, s);
  }

  override(node: number): number {
    return Atomics.load(this.a, this.nodes + node);
  }

  setOverride(node: number, o: number): void {
    Atomics.store(this.a, this.nodes + node, o);
  }

  /** Whether requests for this node should fail at once (detected down, or marked down by an operator). */
  isDown(node: number): boolean {
    const o = Atomics.load(this.a, this.nodes + node);
    if (o !== OVERRIDE_NONE) return o === OVERRIDE_DOWN;
    return Atomics.load(this.a, node) === PEER_DOWN;
  }

  /** Whether a read for this node goes to the next replica at once: down (as isDown), or warming up (PEER_WARMING). */
  skipsReads(node: number): boolean {
    const o = Atomics.load(this.a, this.nodes + node);
    if (o !== OVERRIDE_NONE) return o === OVERRIDE_DOWN;
    const s = Atomics.load(this.a, node);
    return s === PEER_DOWN || s === PEER_WARMING;
  }
}
