// Waits, with a deadline, until something accepts TCP connections on a loopback port.
// Never sleeps a fixed time when a condition can be polled, and never waits without a deadline.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManagedProcess } from './process-group.ts';

function tryConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves once a connection to host:port succeeds. Rejects at the deadline, or as soon as the
 * process expected to listen has exited (with its log tail, which usually says why).
 */
export async function waitForPort(
  host: string,
  port: number,
  options: { deadlineMs?: number; process?: ManagedProcess } = {},
): Promise<void> {
  const deadline = Date.now() + (options.deadlineMs ?? 10_000);
  const proc = options.process;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    if (proc !== undefined && !proc.running) {
      throw new Error(`${proc.name} exited before listening on ${host}:${port}:\n${proc.logTail()}`);
    }
    if (await tryConnect(host, port, 1000)) return;
    if (Date.now() > deadline) {
      const tail = proc === undefined ? '' : `\n${proc.logTail()}`;
      throw new Error(`nothing listening on ${host}:${port} after ${options.deadlineMs ?? 10_000} ms${tail}`);
    }
    await sleep(delay);
  }
}

/** Polls a condition until it holds or the deadline passes; returns whether it held. */
export async function waitUntil(condition: () => boolean, deadlineMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(pollMs);
  }
}
