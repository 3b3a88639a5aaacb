// Opens many idle TCP client connections to a server, to measure what each costs it in memory.
// Never sends a byte on them and never opens more than `concurrency` at a time (the listen backlog).
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface IdleConnections {
  /** Sockets that reached 'connect'. */
  connected: number;
  /** Sockets that failed to connect (error or timeout). */
  failed: number;
  /** Connected sockets the server closed while they were supposed to sit idle. */
  readonly closedByPeer: number;
  firstError: string | undefined;
  elapsedMs: number;
  closeAll(): Promise<void>;
}

export async function openIdleConnections(
  host: string,
  port: number,
  count: number,
  options: { concurrency?: number; connectTimeoutMs?: number } = {},
): Promise<IdleConnections> {
  const concurrency = options.concurrency ?? 256;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const sockets: Socket[] = [];
  let connected = 0;
  let failed = 0;
  let closedByPeer = 0;
  let closing = false;
  let firstError: string | undefined;
  const started = Date.now();

  const openOne = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = connect({ host, port });
      let settled = false;
      let isOpen = false;
      const settle = (ok: boolean, why?: string): void => {
        if (settled) return;
        settled = true;
        socket.setTimeout(0);
        if (ok) {
          isOpen = true;
          connected++;
          sockets.push(socket);
        } else {
          failed++;
          firstError ??= why;
          socket.destroy();
        }
        resolve();
      };
      socket.setTimeout(connectTimeoutMs, () => settle(false, `connect timeout after ${connectTimeoutMs} ms`));
      socket.once('connect', () => settle(true));
      socket.on('error', (err) => settle(false, err.message));
      socket.once('close', () => {
        if (isOpen && !closing) closedByPeer++;
      });
      // The server is not expected to send anything; drain it anyway so nothing buffers here.
      socket.on('data', () => {});
    });

  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      next++;
      await openOne();
    }
  });
  await Promise.all(lanes);

  return {
    connected,
    failed,
    get closedByPeer() {
      return closedByPeer;
    },
    firstError,
    elapsedMs: Date.now() - started,
    async closeAll() {
      closing = true;
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.destroyed) return resolve();
              s.once('close', () => resolve());
              s.destroy();
            }),
        ),
      );
    },
  };
}
