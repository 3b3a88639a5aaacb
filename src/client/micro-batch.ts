// Micro-batching: a multi-key call split into one piece per owner, sent in parallel, stitched back in the caller's order; a
// failed piece alone is re-split over the next replicas of its keys. Never resends a piece that succeeded.
import type { ClientCore, Send } from './client-core.ts';
import { Retryable, sleep } from './client-core.ts';
import type { Level, PooledConnection } from './node-pool.ts';

/** Sends the items `idx` (indexes into the caller's arrays) as one piece on `conn`. */
export type SendPiece = (conn: PooledConnection, idx: readonly number[]) => Promise<void>;

/**
 * Runs items with hashes `hashes` in pieces per owner. Each piece is one attempt; a piece that fails is retried for its own
 * items only, on the next replica of each item (so it may split again), under the same failover and retry rules as one request.
 */
export async function runSplit(
  core: ClientCore, command: string, isWrite: boolean, level: Level, hashes: readonly number[], send: SendPiece,
  /** When given, a piece that finally fails reports here and the others still complete (pipelines); else the call rejects. */
  onPieceError?: (idx: readonly number[], err: unknown) => void,
): Promise<void> {
  const started = performance.now();
  const all: number[] = [];
  for (let i = 0; i < hashes.length; i++) all.push(i);
  const round = async (idx: readonly number[], tried: readonly number[], attempts: number): Promise<void> => {
    const groups = new Map<number, number[]>();
    for (const i of idx) {
      const node = core.pick(hashes[i], isWrite, tried);
      if (node < 0) throw core.noOwner(command);
      let g = groups.get(node);
      if (g === undefined) groups.set(node, (g = []));
      g.push(i);
    }
    await Promise.all(Array.from(groups, async ([node, g]) => {
      const piece: Send<void> = (conn) => send(conn, g);
      let delay: number;
      let nextTried: readonly number[];
      let n: number;
      try {
        await core.attemptOn(node, hashes[g[0]], command, isWrite, g.length, level, tried.length, piece);
        return;
      } catch (err) {
        try {
          if (!(err instanceof Retryable)) throw err;
          nextTried = tried.includes(node) ? tried : [...tried, node];
          n = err.sent || nextTried.length >= core.router.replicaCount ? attempts + 1 : attempts;
          delay = core.nextDelay(err, isWrite, started, n, nextTried.length);
        } catch (final) {
          if (onPieceError === undefined) throw final;
          onPieceError(g, final);
          return;
        }
      }
      if (delay > 0) await sleep(delay);
      await round(g, nextTried, n);
    }));
  };
  if (all.length > 0) await round(all, [], 0);
}
