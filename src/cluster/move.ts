// Ring move (POST /ring/move?token=T, the rebalance plan's one step): a live node takes other tokens in its rack. It leaves (its range
// handed over with the mirror, leave.ts), waits out handoff_grace (every peer has dropped its old place), persists the new tokens
// (<hints_dir>/<pool>.tokens.json: a restart keeps them), joins again with them (join.ts: purge, copy with the mirror, serve), and
// once handoff_grace is past again deletes what it no longer owns (cleanup.ts).
// Never takes a token another node of the rack holds, never moves the last node of a rack, and never serves the new range before it
// was copied; a move cut short by a restart goes on from where the file says (joining: the node joins at start).
// Costs two hand-overs per move, and the rack is one node short meanwhile: an in-place move would need a node's future tokens in the
// topology table (the shadow ring of a node still serving its old range).
import { NODE_STATE, type ClusterView } from '../topology/index.ts';
import type { PoolConfig } from '../config/index.ts';
import type { Membership } from './membership.ts';
import type { CleanupStatus } from './cleanup.ts';

export type MovePhase = 'idle' | 'leaving' | 'waiting' | 'joining' | 'cleanup' | 'done' | 'failed';

export interface MoveStatus {
  phase: MovePhase;
  /** Tokens before and after (comma-joined decimal text). */
  from: string;
  to: string;
  startedAt: number;
  finishedAt: number;
  lastError: string;
}

export interface MoveDeps {
  pool: PoolConfig;
  membership: Membership;
  view(): ClusterView;
  leave: { refusal(): string | null; run(): Promise<boolean> };
  /** This node, LEFT, takes `tokens` and joins with them (cluster-worker.ts: a new Join's rejoin); true once it serves. */
  rejoin(tokens: readonly string[]): Promise<boolean>;
  /** Writes the tokens file (throws on a disk error) and tells the supervisor (a restarted cluster worker starts from it). */
  persist(tokens: readonly string[], joining: boolean): void;
  cleanup: { refusal(): string | null; start(reason: string): { status: number; message: string }; readonly status: CleanupStatus };
  /** The status changed (gossip stats go out with it). */
  report(): void;
  intervalMs: number;
  /** What a cleanup waits past handoff_grace (cluster-worker.ts cleanupMargin: the flip's gossip rounds). */
  cleanupMarginMs: number;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
const MAX_TOKEN = 0xffffffff;

export class Move {
  readonly status: MoveStatus = { phase: 'idle', from: '', to: '', startedAt: 0, finishedAt: 0, lastError: '' };
  private readonly d: MoveDeps;
  private running = false;
  private stopped = false;

  constructor(deps: MoveDeps) {
    this.d = deps;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Why this node cannot take `tokens` now ({ status: 400 | 409, message }), or null. */
  refusal(tokens: readonly string[]): { status: number; message: string } | null {
    const d = this.d;
    const bad = (message: string): { status: number; message: string } => ({ status: 400, message });
    const busy = (message: string): { status: number; message: string } => ({ status: 409, message });
    if (d.pool.hintsDir === null) return bad('a ring move needs hints_dir (the new tokens are kept there, so that a restart keeps them)');
    if (tokens.length === 0 || tokens.length > 256) return bad('give 1 to 256 tokens');
    if (tokens.some((t) => !/^\d{1,10}$/.test(t) || Number(t) > MAX_TOKEN)) return bad('a token is an integer 0..4294967295');
    if (new Set(tokens.map(Number)).size !== tokens.length) return bad('the tokens repeat');
    if (this.running) return busy(`a ring move is under way (${this.status.phase})`);
    const me = d.membership.local;
    const v = d.view();
    const rack = v.racks[v.localRack];
    const wanted = new Set(tokens.map(Number));
    if (me.state !== NODE_STATE.LEFT && me.tokens.length === tokens.length && me.tokens.every((t) => wanted.has(Number(t)))) {
      return bad(`this node has these tokens already (${me.tokens.join(',')})`);
    }
    const owned = this.owner(tokens);
    if (owned !== null) return busy(owned);
    if (me.state === NODE_STATE.JOINING) return busy('this node is still joining');
    if (me.state === NODE_STATE.LEAVING) return busy('this node is leaving');
    // A node that left waits for the rack's moves to settle (its own leave's included) before it joins: no refusal for that.
    if (me.state === NODE_STATE.LEFT) return null;
    if (rack.shadow !== null) return busy('tokens are already moving in this rack: wait until that move settled (handoff_grace)');
    const why = d.leave.refusal();
    if (why === null) return null;
    return why.startsWith('this node') || why.startsWith('tokens') ? busy(why) : bad(why);
  }

  /** Which node of the rack (one that has not left) holds one of `tokens`, in words; null when none does. */
  private owner(tokens: readonly string[]): string | null {
    const v = this.d.view();
    const wanted = new Set(tokens.map(Number));
    for (const n of v.racks[v.localRack].nodes) {
      const node = v.nodes[n];
      if (n === v.localNode || node.state === NODE_STATE.LEFT) continue;
      const t = node.tokens.find((x) => wanted.has(Number(x)));
      if (t !== undefined) return `token ${t} belongs to ${node.name} in this rack`;
    }
    return null;
  }

  start(tokens: readonly string[]): { status: number; message: string } {
    const why = this.refusal(tokens);
    if (why !== null) return why;
    void this.run([...tokens]);
    return { status: 200, message: `moving: this node leaves the ring, then joins it again with token(s) ${tokens.join(',')}` };
  }

  private set(phase: MovePhase, lastError = this.status.lastError): void {
    this.status.phase = phase;
    this.status.lastError = lastError;
    if (phase === 'done' || phase === 'failed') this.status.finishedAt = Date.now();
    this.d.report();
  }

  private fail(why: string): void {
    this.running = false;
    this.set('failed', why);
    this.d.log('warn', `ring move: ${why}`, { to: this.status.to });
  }

  private async run(tokens: string[]): Promise<void> {
    const d = this.d;
    const m = d.membership;
    this.running = true;
    Object.assign(this.status, { from: m.local.tokens.join(','), to: tokens.join(','), startedAt: Date.now(), finishedAt: 0, lastError: '' });
    d.log('info', 'ring move: started', { from: this.status.from, to: this.status.to });
    // 1. Leave (unless this node left already: a move cut short, or a decommissioned node put back elsewhere).
    if (m.local.state !== NODE_STATE.LEFT) {
      this.set('leaving');
      if (!(await d.leave.run())) return this.stopped ? undefined : this.fail('the leave did not finish (see /info warm_up); this node keeps its tokens');
    }
    // 2. Every peer drops this node's old place (its settle of the leave ends after handoff_grace) before it shows up elsewhere.
    this.set('waiting');
    const end = Date.now() + 2 * d.pool.handoffGrace + 60_000;
    await sleep(d.pool.handoffGrace + 2 * d.intervalMs);
    while (!this.stopped && Date.now() < end && d.view().racks[d.view().localRack].shadow !== null) await sleep(Math.min(250, d.intervalMs));
    if (this.stopped) return;
    if (d.view().racks[d.view().localRack].shadow !== null) return this.fail('tokens still move in this rack; this node stays out of the ring (POST /ring/move again)');
    // A node may have joined with one of the tokens meanwhile.
    const taken = this.owner(tokens);
    if (taken !== null) return this.fail(`${taken}; this node stays out of the ring`);
    // 3. The tokens are kept before anyone hears of them: a restart from here joins with them.
    try {
      d.persist(tokens, true);
    } catch (err) {
      return this.fail(`cannot write the tokens file (${err instanceof Error ? err.message : String(err)}); this node stays out of the ring`);
    }
    // 4. Join with them.
    this.set('joining');
    if (!(await d.rejoin(tokens))) return this.stopped ? undefined : this.fail('the join did not finish');
    try {
      d.persist(tokens, false);
    } catch (err) {
      d.log('warn', 'ring move: could not mark the tokens file done (a restart joins again, harmlessly)', { error: err instanceof Error ? err.message : String(err) });
    }
    // 5. What this node kept of its old range goes once the join settled.
    if (d.pool.dataStore === 0 && d.pool.autoCleanup) {
      this.set('cleanup');
      await this.cleanUp();
      if (this.stopped) return;
    }
    this.running = false;
    this.set('done');
    d.log('info', 'ring move: done', { from: this.status.from, to: this.status.to, seconds: (this.status.finishedAt - this.status.startedAt) / 1000 });
  }

  private async cleanUp(): Promise<void> {
    const d = this.d;
    const c = d.cleanup;
    const runs = c.status.runs;
    await sleep(d.pool.handoffGrace + d.cleanupMarginMs);
    const end = Date.now() + d.pool.handoffGrace + 60_000;
    // The cluster worker's own trigger may have started one meanwhile; otherwise start it once no move settles here.
    while (!this.stopped && Date.now() < end && c.status.runs === runs) {
      if (c.refusal() === null) c.start('a ring move: the keys of the old range go');
      else await sleep(250);
    }
    while (!this.stopped && c.status.running) await sleep(250);
    if (c.status.runs !== runs) return;
    this.status.lastError = `no cleanup could start (${c.refusal() ?? 'stopped'}): POST /cleanup once no move settles in this rack`;
    d.log('warn', 'ring move: no cleanup could start; POST /cleanup once no move settles in this rack', { why: c.refusal() });
  }
}
