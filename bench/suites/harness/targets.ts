// The servers a load suite compares: the backend itself (direct), twemproxy, and dynoproxy with N workers.
// Never starts a server beyond loopback, and never one the caller's ProcessGroup does not own.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LaunchContext, RunningServer } from '../../lib/server-launchers.ts';
import {
  dynoproxyEntry, launchOnFreePort, loopback, projectNodeBinary, repoRoot, startDynoproxy, startMemcached, startRedisServer, startTwemproxy,
} from '../../lib/server-launchers.ts';

export type BackendKind = 'redis' | 'memcached';

export interface TargetSpec {
  /** direct, twemproxy, dynoproxy-w<N> */
  name: string;
  kind: 'direct' | 'twemproxy' | 'dynoproxy';
  workers: number;
}

export interface LiveTarget {
  spec: TargetSpec;
  server: RunningServer;
  /** The proxy process whose CPU and memory are read; undefined for direct. */
  proxy: RunningServer | undefined;
  /** A cluster: every proxy node (CPU summed; RSS of `proxy`, the one clients talk to). Default [proxy]. */
  proxies?: RunningServer[];
  /** A cluster's own datastores (CPU summed), instead of the suite's shared backend. */
  backends?: RunningServer[];
}

export function parseTargets(list: string): TargetSpec[] {
  return list.split(',').map((t) => t.trim()).filter((t) => t !== '').map((name) => {
    if (name === 'direct' || name === 'twemproxy') return { name, kind: name, workers: 1 };
    const m = /^dynoproxy-w([1-9]\d*)$/.exec(name);
    if (m === null) throw new Error(`unknown target ${JSON.stringify(name)}: use direct, twemproxy or dynoproxy-w<workers>`);
    return { name, kind: 'dynoproxy', workers: Number(m[1]) };
  });
}

export function startBackend(ctx: LaunchContext, kind: BackendKind): Promise<RunningServer> {
  return kind === 'redis' ? startRedisServer(ctx) : startMemcached(ctx);
}

/**
 * dynoproxy launched with extra Node flags (e.g. --cpu-prof), same YAML as the shared launcher writes.
 * The profile of each worker thread is written by that thread when it exits.
 */
export function startDynoproxyWithNodeArgs(
  ctx: LaunchContext,
  backend: RunningServer,
  kind: BackendKind,
  workers: number,
  nodeArgs: readonly string[],
  name = `dynoproxy-w${workers}`,
): Promise<RunningServer> {
  return launchOnFreePort(ctx, name, workers, async (port) => {
    const configPath = join(ctx.dir, `${name}.yml`);
    writeFileSync(configPath, [
      'bench_pool:',
      `  listen: ${loopback}:${port}`,
      '  servers:',
      `    - ${backend.host}:${backend.port}:1`,
      `  data_store: ${kind === 'redis' ? 0 : 1}`,
      '  timeout: 5000',
      '',
    ].join('\n'));
    return ctx.group.start({
      name,
      command: projectNodeBinary(),
      args: [...nodeArgs, dynoproxyEntry, '-c', configPath, '--workers', String(workers)],
      cwd: repoRoot,
      logPath: join(ctx.dir, `${name}.log`),
    });
  });
}

export async function startTarget(ctx: LaunchContext, spec: TargetSpec, backend: RunningServer, kind: BackendKind): Promise<LiveTarget> {
  if (spec.kind === 'direct') return { spec, server: backend, proxy: undefined };
  const server = spec.kind === 'twemproxy'
    ? await startTwemproxy(ctx, [backend], { name: spec.name, redis: kind === 'redis' })
    : await startDynoproxy(ctx, [backend], { name: spec.name, workers: spec.workers, dataStore: kind === 'redis' ? 0 : 1 });
  return { spec, server, proxy: server };
}

export async function stopTargets(targets: readonly LiveTarget[]): Promise<void> {
  await Promise.all(targets.flatMap((t) => [...(t.proxies ?? (t.proxy === undefined ? [] : [t.proxy])), ...(t.backends ?? [])]).map((s) => s.process.stop()));
}
