// Measures what idle client connections cost a server in resident memory.
// Never leaves a connection or a server open when it returns or throws.
import { setTimeout as sleep } from 'node:timers/promises';
import { openIdleConnections } from '../lib/idle-connections.ts';
import { countOpenFds, readPeakRssKb, readRssKb } from '../lib/proc-stats.ts';
import type { RunningServer } from '../lib/server-launchers.ts';
import { waitUntil } from '../lib/wait-for-port.ts';
import type { IdleResult } from './result-types.ts';

/**
 * Waits until RSS stops moving (two samples `intervalMs` apart within `toleranceKb`), at most
 * `deadlineMs`; returns the last sample. Allocators and GCs settle lazily after a burst.
 */
export async function settledRssKb(pid: number, deadlineMs = 5000, intervalMs = 250, toleranceKb = 64): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  let previous = readRssKb(pid);
  for (;;) {
    await sleep(intervalMs);
    const current = readRssKb(pid);
    if (Math.abs(current - previous) <= toleranceKb || Date.now() > deadline) return current;
    previous = current;
  }
}

export async function measureIdleConnections(
  server: RunningServer,
  target: string,
  connections: number,
  log: (line: string) => void,
): Promise<IdleResult> {
  const pid = server.process.pid;
  const rssBeforeKb = await settledRssKb(pid);
  const fdsBefore = countOpenFds(pid);
  const idle = await openIdleConnections(server.host, server.port, connections);
  try {
    // A connect completes in the kernel before the server's accept(); open fds show the accepts.
    await waitUntil(() => countOpenFds(pid) - fdsBefore >= idle.connected, 10_000, 100);
    const accepted = countOpenFds(pid) - fdsBefore;
    const rssAfterKb = await settledRssKb(pid);
    const result: IdleResult = {
      target,
      workers: server.workers,
      requested: connections,
      connected: idle.connected,
      failed: idle.failed,
      firstError: idle.firstError,
      accepted,
      closedByPeer: idle.closedByPeer,
      rssBeforeKb,
      rssAfterKb,
      peakRssKb: readPeakRssKb(pid),
      connectMs: idle.elapsedMs,
    };
    const perConn = ((rssAfterKb - rssBeforeKb) * 1024) / Math.max(1, accepted);
    log(
      `idle ${target}: ${idle.connected}/${connections} connected (${idle.failed} failed, ${accepted} accepted) in ${idle.elapsedMs} ms; ` +
        `RSS ${(rssBeforeKb / 1024).toFixed(1)} -> ${(rssAfterKb / 1024).toFixed(1)} MiB, ${Math.round(perConn)} B/connection`,
    );
    return result;
  } finally {
    await idle.closeAll();
  }
}
