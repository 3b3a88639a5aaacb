// NodeControl: the admin API's side of the control block: node state, consistency, timeout factor, log level, backend overrides.
// Never touches a socket of the data plane: it writes the control block, and every worker applies it on its next request or wake-up.
import type { Level } from 'pino';
import { CONSISTENCIES, type Consistency } from '../config/index.ts';
import {
  NODE_STATES,
  C_LOG_LEVEL,
  C_READ_CONSISTENCY,
  C_STATE,
  C_TIMEOUT_FACTOR,
  C_WRITE_CONSISTENCY,
  ST_NORMAL,
  ST_RESUMING,
  type NodeStateName,
} from '../stats/index.ts';
import type { AdminHost } from './admin-host.ts';

/** Dynomite's log levels (dyn_log.h): LOG_EMERG 0 ... LOG_NOTICE 5 (its default) ... LOG_PVERB 11. */
export const LOG_LEVEL_MIN = 0;
export const LOG_LEVEL_MAX = 11;
const PINO_OF_LEVEL: readonly Level[] = ['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug', 'trace', 'trace', 'trace', 'trace'];
const LEVEL_OF_PINO: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 5, debug: 7, trace: 8, silent: 0 };

export type PeerVerb = 'up' | 'down' | 'reset';

export interface ServerState {
  pool: string;
  name: string;
  /** Held out of routing by /peer/down. */
  adminDown: boolean;
  /** Ejected by auto_eject_hosts on some worker. */
  ejected: boolean;
}

export class NodeControl {
  private readonly host: AdminHost;
  private resumeTimer: NodeJS.Timeout | null = null;

  constructor(host: AdminHost) {
    this.host = host;
    const level = LEVEL_OF_PINO[host.log.level] ?? 5;
    host.control.set(C_LOG_LEVEL, level);
  }

  /** The state an operator sees: the control block's, or, while a warm-up copies (cluster/warm-up.ts), WRITES_ONLY then RESUMING. */
  get state(): NodeStateName {
    const s = NODE_STATES[this.host.control.get(C_STATE)] ?? 'NORMAL';
    const w = this.host.cluster?.warmUp?.phase;
    if (s !== 'NORMAL' || w === undefined) return s;
    return w === 'writes_only' ? 'WRITES_ONLY' : w === 'resuming' ? 'RESUMING' : s;
  }

  /** Every worker sees the new state on its next request; held writes leave at RESUMING, and RESUMING becomes NORMAL once none is held. */
  setState(name: NodeStateName): void {
    const code = NODE_STATES.indexOf(name);
    this.host.control.set(C_STATE, code);
    this.host.log.info({ state: name }, 'node state changed by the admin API');
    if (code === ST_RESUMING) this.watchResume();
  }

  private watchResume(): void {
    if (this.resumeTimer !== null) return;
    this.resumeTimer = setInterval(() => {
      if (this.host.control.get(C_STATE) !== ST_RESUMING) return this.stopResumeWatch();
      if (this.writesHeld() > 0) return;
      this.host.control.set(C_STATE, ST_NORMAL);
      this.host.log.info('every held write was sent: node state NORMAL');
      this.stopResumeWatch();
    }, 20);
    this.resumeTimer.unref();
  }

  private stopResumeWatch(): void {
    if (this.resumeTimer !== null) clearInterval(this.resumeTimer);
    this.resumeTimer = null;
  }

  writesHeld(): number {
    let n = 0;
    for (const p of this.host.counters()) n += p.metrics['writes_held'] ?? 0;
    return n;
  }

  get readConsistency(): Consistency {
    return CONSISTENCIES[this.host.control.get(C_READ_CONSISTENCY)] ?? 'DC_ONE';
  }

  get writeConsistency(): Consistency {
    return CONSISTENCIES[this.host.control.get(C_WRITE_CONSISTENCY)] ?? 'DC_ONE';
  }

  setConsistency(op: 'read' | 'write', level: Consistency): void {
    this.host.control.set(op === 'read' ? C_READ_CONSISTENCY : C_WRITE_CONSISTENCY, CONSISTENCIES.indexOf(level));
  }

  get timeoutFactor(): number {
    return this.host.control.get(C_TIMEOUT_FACTOR);
  }

  /** Dynomite clamps the factor to 1..10. */
  setTimeoutFactor(n: number): number {
    const f = Math.min(10, Math.max(1, Math.trunc(n)));
    this.host.control.set(C_TIMEOUT_FACTOR, f);
    return f;
  }

  get logLevel(): number {
    return this.host.control.get(C_LOG_LEVEL);
  }

  setLogLevel(n: number): number {
    const level = Math.min(LOG_LEVEL_MAX, Math.max(LOG_LEVEL_MIN, Math.trunc(n)));
    this.host.control.set(C_LOG_LEVEL, level);
    this.host.log.level = PINO_OF_LEVEL[level];
    return level;
  }

  /**
   * /peer/<verb>/<name|all>. A single node has no peers yet, so the verbs act on its backend servers
   * (by server name, e.g. 127.0.0.1:6379): down takes one out of routing on every worker at once, up
   * and reset put it back. Returns how many servers matched.
   */
  peer(verb: PeerVerb, name: string): number {
    const shapes = this.host.poolShapes;
    let n = 0;
    shapes.forEach((p, i) =>
      p.servers.forEach((s, j) => {
        if (name !== 'all' && s !== name) return;
        this.host.control.setOverride(i, j, verb === 'down');
        n++;
      }),
    );
    // A cluster node's peers answer to the same verbs (by host:peer_port), on every worker at once.
    if (this.host.cluster !== null) n += this.host.cluster.overridePeer(name, verb);
    if (n > 0) this.host.log.info({ verb, name, servers: n }, 'backend or peer override by the admin API');
    return n;
  }

  serverStates(): ServerState[] {
    const totals = this.host.counters();
    const out: ServerState[] = [];
    this.host.poolShapes.forEach((p, i) =>
      p.servers.forEach((name, j) => {
        const m = totals[i]?.servers[j]?.metrics ?? {};
        out.push({ pool: p.name, name, adminDown: this.host.control.forcedDown(i, j), ejected: (m['server_ejected'] ?? 0) > 0 });
      }),
    );
    return out;
  }
}
