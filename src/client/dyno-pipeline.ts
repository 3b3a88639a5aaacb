// DynoPipeline: ioredis-style command queue; exec() sends one ioredis pipeline per owner in parallel and returns [error, result]
// pairs in queue order. A piece whose node fails is retried on the next replicas of its commands only; never reorders results.
import type { ChainableCommander } from 'ioredis';
import { Redis } from 'ioredis';
import type { ClientCore } from './client-core.ts';
import { flattenArgs, locateKeys } from './command-keys.ts';
import { isNodeFaultReply } from './dyno-error.ts';
import { runSplit } from './micro-batch.ts';
import type { Level } from './node-pool.ts';

export interface QueuedCommand {
  readonly name: string;
  readonly method: string;
  readonly args: readonly unknown[];
}

export type PipelineResult = [Error | null, unknown][];

// Typed as ioredis' chainable commands; installed on the prototype below.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface DynoPipeline extends Omit<ChainableCommander, 'exec' | 'length'> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class DynoPipeline {
  private readonly queue: QueuedCommand[] = [];
  private readonly run: (q: readonly QueuedCommand[]) => Promise<PipelineResult>;

  constructor(run: (q: readonly QueuedCommand[]) => Promise<PipelineResult>) {
    this.run = run;
  }

  get length(): number {
    return this.queue.length;
  }

  add(name: string, method: string, args: readonly unknown[]): this {
    this.queue.push({ name, method, args });
    return this;
  }

  exec(): Promise<PipelineResult> {
    return this.run(this.queue.splice(0));
  }
}

function failsNode(err: Error | null): boolean {
  return err !== null && (err.name !== 'ReplyError' || isNodeFaultReply(err.message));
}

/** Sends the queue in pieces per owner of each command's first key (keyless commands spread over the ring). */
export async function runPipeline(core: ClientCore, level: Level, queue: readonly QueuedCommand[]): Promise<PipelineResult> {
  const results: PipelineResult = queue.map(() => [null, null]);
  const hashes: number[] = [];
  const place: number[] = [];
  let isWrite = false;
  queue.forEach((c, i) => {
    try {
      const flat = flattenArgs(c.args);
      const kc = locateKeys(c.name, flat);
      hashes.push(kc.keys.length > 0 ? core.router.hashKey(flat[kc.keys[0]]) : core.keylessHash());
      place.push(i);
      isWrite ||= kc.isWrite;
    } catch (err) {
      results[i] = [err as Error, null];
    }
  });
  await runSplit(core, 'pipeline', isWrite, level, hashes, async (conn, idx) => {
    const p = conn.redis.pipeline();
    for (const j of idx) {
      const c = queue[place[j]];
      const f = (p as unknown as Record<string, unknown>)[c.method];
      if (typeof f === 'function') (f as (...a: unknown[]) => unknown).apply(p, c.args as unknown[]);
      else p.call(c.method, ...(flattenArgs(c.args) as (string | Buffer)[]));
    }
    const res = (await p.exec()) ?? [];
    // A piece fails whole when its node did (connection, timeout, a node fault reply): it is resent elsewhere.
    for (const [err] of res) if (failsNode(err)) throw err;
    for (let k = 0; k < idx.length; k++) results[place[idx[k]]] = res[k] ?? [new Error('no reply'), null];
  }, (idx, err) => {
    for (const j of idx) results[place[j]] = [err as Error, null];
  });
  return results;
}

function installCommands(): void {
  const proto = DynoPipeline.prototype as unknown as Record<string, unknown>;
  for (const name of (Redis.prototype as unknown as { getBuiltinCommands(): string[] }).getBuiltinCommands()) {
    if (!/^[a-z][a-z0-9_]*$/.test(name) || name === 'multi' || name === 'exec') continue;
    for (const method of [name, `${name}Buffer`]) {
      if (method in proto) continue;
      proto[method] = function (this: DynoPipeline, ...args: unknown[]) {
        return this.add(name, method, args);
      };
    }
  }
}
installCommands();
