// Failure detection's probes: a PING through each node's peer port every interval (its datastore answers it, so a node whose
// datastore is down says so); phi-accrual suspicion over the replies (failure-detector.ts) marks a silent (frozen) node down, a
// failed link marks a dead one down at once, and a down node must answer twice in a row to be up again. Each verdict is published
// where the data workers read it (the peer-state words), in the per-peer gauges and, on a change, to the supervisor.
// Never sends a second PING to a node while one is in flight.
import { PeerStates, PEER_DOWN, PEER_WARMING } from '../peer/index.ts';
import { FD_DOWN, FD_UP, FD_UNKNOWN, FD_DATASTORE_DOWN, type FailureDetector } from './failure-detector.ts';
import { F_NONE, F_TIMEOUT } from '../protocol/failure/index.ts';
import { S_PEER } from '../stats/index.ts';
import { acquireRequest, K_CLIENT, refreshClock, type BackendServer, type ClientSession, type Request } from '../io/index.ts';
import type { FromClusterWorker } from '../messages.ts';

const WARMING = Buffer.from('+WARMING\r\n');
const STORAGE_DOWN = Buffer.from('-ERR Storage:');

function startsWith(buf: Uint8Array, start: number, end: number, p: Buffer, exact: boolean): boolean {
  if (exact ? end - start !== p.length : end - start < p.length) return false;
  for (let i = 0; i < p.length; i++) if (buf[start + i] !== p[i]) return false;
  return true;
}

export interface ProbeDeps {
  /** memcached nodes are probed with the meta no-op `mn` (answered by the node itself: no datastore state that way). */
  memcache: boolean;
  links: readonly (BackendServer | null | undefined)[];
  detector: FailureDetector;
  states: PeerStates;
  /** Per-peer gauge blocks (configured peers, by node index - 1). */
  peerSlots: readonly Float64Array[];
  maxNodes: number;
  name(node: number): string;
  post(m: FromClusterWorker): void;
}

class Probe implements ClientSession {
  readonly node: number;
  sentAt = 0;
  inFlight = false;
  closed = false;
  private readonly owner: Probes;
  constructor(owner: Probes, node: number) {
    this.owner = owner;
    this.node = node;
  }
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    this.inFlight = false;
    this.owner.replied(this, req.failure, buf, start, end);
  }
  requestFinished(): void {}
}

export class Probes {
  /** By node: smoothed PING round trip, ms (Infinity until measured): the load signal warm-up picks its source rack by. */
  readonly rtts: Float64Array;
  /** By node: its last PING answer was +WARMING (it is warming up: peer-client.ts). */
  private readonly warmingSeen: Uint8Array;
  /** By node index (sparse until a node has a link). */
  private readonly probes: Probe[] = [];
  private readonly ping: Buffer;
  private readonly d: ProbeDeps;

  constructor(d: ProbeDeps) {
    this.d = d;
    this.rtts = new Float64Array(d.maxNodes).fill(Infinity);
    this.warmingSeen = new Uint8Array(d.maxNodes);
    this.ping = d.memcache ? Buffer.from('mn\r\n') : Buffer.from('*1\r\n$4\r\nPING\r\n');
  }

  /**
   * A slot's node changed (a replaced node, one whose tokens moved): what was measured of the old one goes, its probe with it (a PING
   * in flight on the old link, closed, may never be answered: the probe would wait for it forever and the node stay unknown).
   */
  forget(node: number): void {
    const p = this.probes[node];
    if (p !== undefined) {
      p.closed = true;
      delete this.probes[node];
    }
    this.d.detector.forget(node);
    this.d.states.setState(node, 0);
    this.rtts[node] = Infinity;
    this.warmingSeen[node] = 0;
  }

  /** One round: every linked node's verdict checked, and a PING sent where none is in flight. */
  all(): void {
    const now = refreshClock();
    const { links, detector } = this.d;
    for (let i = 0; i < links.length; i++) {
      const link = links[i];
      if (link === null || link === undefined) continue;
      const p = (this.probes[i] ??= new Probe(this, i));
      link.checkTimeouts(now);
      this.verdict(p.node, detector.check(p.node, now));
      if (p.inFlight) continue;
      const req = acquireRequest(K_CLIENT);
      req.client = p;
      p.inFlight = true;
      p.sentAt = now;
      // A link in backoff fails the probe at once (replyArrived with its failure code).
      link.send(req, this.ping, 0, this.ping.length);
    }
  }

  /** A reply (an error reply included) came from the node; a timeout is left to phi (unless the node never answered); a failed link is a dead node. */
  replied(p: Probe, failure: number, buf: Uint8Array, start: number, end: number): void {
    // The answer of a link that was replaced since: it says nothing about the node the slot holds now.
    if (this.probes[p.node] !== p) return;
    const now = refreshClock();
    const detector = this.d.detector;
    const node = p.node;
    if (failure === F_NONE) {
      const rtt = now - p.sentAt;
      this.rtts[node] = this.rtts[node] === Infinity ? rtt : 0.8 * this.rtts[node] + 0.2 * rtt;
      this.warmingSeen[node] = startsWith(buf, start, end, WARMING, true) ? 1 : 0;
      this.verdict(node, detector.heartbeat(node, now, !startsWith(buf, start, end, STORAGE_DOWN, false)));
    } else if (failure !== F_TIMEOUT || detector.verdict(node) === FD_UNKNOWN) this.verdict(node, detector.linkFailed(node));
  }

  /** Publish a verdict: the peer-state word the data workers read, the gauges, the log line. */
  private verdict(node: number, detected: number): void {
    // A node that answers its PING with +WARMING is up, its reads served elsewhere (PEER_WARMING) until it answers PONG again.
    const verdict = detected === FD_UP && this.warmingSeen[node] === 1 ? PEER_WARMING : detected;
    const states = this.d.states;
    const before = states.state(node);
    if (before === verdict) return;
    states.setState(node, verdict);
    const st = this.d.peerSlots[node - 1];
    if (st !== undefined) {
      st[S_PEER.peer_up] = verdict === FD_DOWN ? 0 : 1;
      st[S_PEER.peer_datastore_up] = verdict === FD_UP || verdict === PEER_WARMING ? 1 : 0;
    }
    const name = this.d.name(node);
    if ((before === PEER_DOWN) !== (verdict === FD_DOWN) || before === 0) this.d.post({ type: 'peer-state', node, name, up: verdict !== FD_DOWN });
    if (verdict === FD_DATASTORE_DOWN || (before === FD_DATASTORE_DOWN && verdict !== FD_DOWN)) this.d.post({ type: 'peer-datastore', node, name, up: verdict === FD_UP });
  }
}
