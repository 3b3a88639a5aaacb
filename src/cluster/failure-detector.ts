// FailureDetector: phi-accrual suspicion (Hayashibara et al., as Cassandra and Akka use it) over each peer's heartbeat replies,
// with hysteresis. Pure: no I/O and no clock of its own (callers pass ms); a verdict moves only on evidence, never on one late reply.

/** Verdicts (the PeerStates words the data workers read). */
export const FD_UNKNOWN = 0;
export const FD_UP = 1;
export const FD_DOWN = 2;
/** The node answers, but its datastore does not (its PING came back as a datastore error). */
export const FD_DATASTORE_DOWN = 3;

export interface FailureDetectorSettings {
  /** Heartbeat period, ms. */
  intervalMs: number;
  /** phi above which a silent node is down (8: about one false suspicion in 10^8 under the model). */
  threshold: number;
  /** Pause a healthy node may take on top of its usual interval (GC, a busy loop), ms. */
  acceptablePauseMs: number;
  /** Lower bound of the standard deviation, ms, so a very regular peer is not judged on microseconds. */
  minStdDevMs: number;
  /** Heartbeats answered in a row before a down node is up again. */
  upAfter: number;
}

const WINDOW = 100;

class NodeHistory {
  readonly intervals = new Float64Array(WINDOW);
  count = 0;
  next = 0;
  last = -1;
  verdict = FD_UNKNOWN;
  goodInRow = 0;
}

export class FailureDetector {
  private readonly s: FailureDetectorSettings;
  private readonly nodes: NodeHistory[];

  constructor(nodes: number, settings: FailureDetectorSettings) {
    this.s = settings;
    this.nodes = Array.from({ length: nodes }, () => new NodeHistory());
  }

  verdict(node: number): number {
    return this.nodes[node]?.verdict ?? FD_UNKNOWN;
  }

  /** Another node took this slot (membership replaced it): its history starts over. */
  forget(node: number): void {
    if (node >= 0 && node < this.nodes.length) this.nodes[node] = new NodeHistory();
  }

  /** A heartbeat reply from the node at `now`; `datastoreUp` false when the node said its datastore is down. Returns the verdict. */
  heartbeat(node: number, now: number, datastoreUp: boolean): number {
    const h = this.nodes[node];
    if (h.last >= 0) {
      h.intervals[h.next] = now - h.last;
      h.next = (h.next + 1) % WINDOW;
      if (h.count < WINDOW) h.count++;
    }
    h.last = now;
    const next = datastoreUp ? FD_UP : FD_DATASTORE_DOWN;
    if (h.verdict === FD_DOWN || h.verdict === FD_UNKNOWN) {
      // Hysteresis: a node that was down must answer `upAfter` heartbeats in a row (the first one is enough at start).
      h.goodInRow++;
      if (h.verdict === FD_UNKNOWN || h.goodInRow >= this.s.upAfter) h.verdict = next;
    } else h.verdict = next;
    return h.verdict;
  }

  /** The link to the node failed (refused, reset, closed): a dead process, not a slow one; down at once. */
  linkFailed(node: number): number {
    const h = this.nodes[node];
    h.goodInRow = 0;
    h.verdict = FD_DOWN;
    return h.verdict;
  }

  /** Re-evaluate a silent node at `now` (call every tick): down once phi passes the threshold. Returns the verdict. */
  check(node: number, now: number): number {
    const h = this.nodes[node];
    if (h.verdict === FD_DOWN || h.last < 0) return h.verdict;
    if (this.phi(node, now) > this.s.threshold) {
      h.goodInRow = 0;
      h.verdict = FD_DOWN;
    }
    return h.verdict;
  }

  /** Suspicion that the node is down, given the time since its last heartbeat and the distribution of its intervals. */
  phi(node: number, now: number): number {
    const h = this.nodes[node];
    if (h.last < 0) return 0;
    let mean = this.s.intervalMs;
    let variance = (this.s.intervalMs / 4) ** 2;
    if (h.count > 0) {
      let sum = 0;
      for (let i = 0; i < h.count; i++) sum += h.intervals[i];
      mean = sum / h.count;
      let sq = 0;
      for (let i = 0; i < h.count; i++) sq += (h.intervals[i] - mean) ** 2;
      variance = sq / h.count;
    }
    const std = Math.max(Math.sqrt(variance), this.s.minStdDevMs);
    const y = (now - h.last - (mean + this.s.acceptablePauseMs)) / std;
    // The logistic approximation of the normal CDF's tail (Akka's PhiAccrualFailureDetector), which stays finite for large y.
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
    return y > 0 ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
  }
}
