// Accept guard: keeps a data worker's listener through accept errors. On EMFILE/ENFILE it stops listening for a while (the kernel
// refuses new connections; other workers' listeners go on taking them), logs, then listens again. Never lets an accept error end the worker.
import type net from 'node:net';
import { P } from '../stats/index.ts';
import { reportConnectionFault } from './worker-events.ts';

/** First pause on fd exhaustion; doubled while listening again fails, up to MAX_PAUSE_MS. */
export const ACCEPT_PAUSE_MS = 1000;
const MAX_PAUSE_MS = 8000;

export interface AcceptGuardTarget {
  readonly pool: string;
  readonly st: Float64Array;
  /** The pool is draining: its listeners stay closed. */
  draining(): boolean;
}

/**
 * Installed once the listener listens. libuv sheds connections it cannot accept on its own while its reserve descriptor lasts
 * (nothing reaches Node then); what it passes on arrives here instead of as an uncaught 'error' that would end the worker.
 */
export function guardListener(server: net.Server, target: AcceptGuardTarget, listen: { host: string; port: number; backlog: number }): void {
  const where = `${listen.host}:${listen.port}`;
  let paused = false;
  let pauseMs = ACCEPT_PAUSE_MS;
  const resume = (): void => {
    if (target.draining()) return;
    server.listen({ host: listen.host, port: listen.port, reusePort: true, backlog: listen.backlog }, () => {
      paused = false;
      reportConnectionFault({ pool: target.pool, what: 'accept-resumed', code: '', where, message: `listening again after ${pauseMs} ms`, stack: '' });
      pauseMs = ACCEPT_PAUSE_MS;
    });
  };
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (target.draining()) return;
    const code = err.code ?? 'ERR';
    if (paused) {
      // Listening again failed (still no descriptor to spare): wait longer.
      pauseMs = Math.min(MAX_PAUSE_MS, pauseMs * 2);
      setTimeout(resume, pauseMs);
      return;
    }
    target.st[P.accept_errors_total]++;
    if (code !== 'EMFILE' && code !== 'ENFILE') {
      reportConnectionFault({ pool: target.pool, what: 'accept-error', code, where, message: err.message, stack: '' });
      return;
    }
    paused = true;
    reportConnectionFault({
      pool: target.pool,
      what: 'accept-paused',
      code,
      where,
      message: `${err.message}: not accepting for ${pauseMs} ms (raise the open-files limit, ulimit -n, or lower client_connections)`,
      stack: '',
    });
    server.close();
    setTimeout(resume, pauseMs);
  });
}
