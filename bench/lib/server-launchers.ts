// Starts the servers a benchmark compares: redis-server, memcached, nutcracker (twemproxy), dynoproxy.
// Never binds beyond loopback, never persists data to disk, never returns before the port accepts.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.ts';
import { countTcpListeners } from './proc-stats.ts';
import type { ManagedProcess, ProcessGroup } from './process-group.ts';
import { waitForPort, waitUntil } from './wait-for-port.ts';

export const loopback = '127.0.0.1';

/** Root of the repository (bench/lib/ is two levels down). */
export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface RunningServer {
  name: string;
  host: string;
  port: number;
  process: ManagedProcess;
  /** Data worker count for dynoproxy; 1 for single-threaded servers. */
  workers: number;
  /** False when fewer SO_REUSEPORT listeners than workers appeared before the grace period ended. */
  allWorkersListening: boolean;
}

export interface LaunchContext {
  group: ProcessGroup;
  /** Scratch directory for configs and logs. */
  dir: string;
  /** How long a server may take to accept connections. */
  startDeadlineMs?: number;
}

async function started(ctx: LaunchContext, name: string, port: number, proc: ManagedProcess, workers = 1): Promise<RunningServer> {
  await waitForPort(loopback, port, { deadlineMs: ctx.startDeadlineMs ?? 15_000, process: proc });
  // With SO_REUSEPORT each worker has its own listening socket; until all exist, the first takes every client.
  const allWorkersListening = workers <= 1 || (await waitUntil(() => countTcpListeners(port) >= workers, 3000));
  return { name, host: loopback, port, process: proc, workers, allWorkersListening };
}

export async function startRedisServer(ctx: LaunchContext, name = 'redis-server', extraArgs: readonly string[] = []): Promise<RunningServer> {
  const port = await freePort();
  const proc = ctx.group.start({
    name,
    command: 'redis-server',
    args: [
      '--port', String(port), '--bind', loopback, '--save', '', '--appendonly', 'no',
      '--dir', ctx.dir, '--daemonize', 'no', '--maxclients', '100000', ...extraArgs,
    ],
    logPath: join(ctx.dir, `${name}.log`),
  });
  return started(ctx, name, port, proc);
}

export async function startMemcached(ctx: LaunchContext, name = 'memcached', extraArgs: readonly string[] = []): Promise<RunningServer> {
  const port = await freePort();
  const proc = ctx.group.start({
    name,
    command: 'memcached',
    // memcached refuses to run as root unless told which user to stay.
    args: ['-l', loopback, '-p', String(port), '-U', '0', '-c', '100000', ...(process.getuid?.() === 0 ? ['-u', 'root'] : []), ...extraArgs],
    logPath: join(ctx.dir, `${name}.log`),
  });
  return started(ctx, name, port, proc);
}

/** nutcracker with one pool in front of `backends`, hashed like dynoproxy's twemproxy-style configs. */
export async function startTwemproxy(
  ctx: LaunchContext,
  backends: readonly RunningServer[],
  options: { name?: string; redis?: boolean; timeoutMs?: number } = {},
): Promise<RunningServer> {
  const name = options.name ?? 'twemproxy';
  const [port, statsPort] = [await freePort(), await freePort()];
  const config = [
    'bench_pool:',
    `  listen: ${loopback}:${port}`,
    '  hash: fnv1a_64',
    '  distribution: ketama',
    `  redis: ${options.redis ?? true}`,
    `  timeout: ${options.timeoutMs ?? 5000}`,
    '  servers:',
    ...backends.map((b) => `    - ${b.host}:${b.port}:1`),
    '',
  ].join('\n');
  const configPath = join(ctx.dir, `${name}.yml`);
  writeFileSync(configPath, config);
  const proc = ctx.group.start({
    name,
    command: 'nutcracker',
    args: ['-c', configPath, '-s', String(statsPort), '-a', loopback, '-o', join(ctx.dir, `${name}.log`)],
    logPath: join(ctx.dir, `${name}.stdout.log`),
  });
  return started(ctx, name, port, proc);
}

export const dynoproxyEntry = join(repoRoot, 'src', 'cli.ts');

/** The Node 24 pinned in devDependencies; the system node is older and must not run the proxy. */
export function projectNodeBinary(): string {
  const pinned = join(repoRoot, 'node_modules', '.bin', 'node');
  return existsSync(pinned) ? pinned : process.execPath;
}

/** dynoproxy with a Dynomite-style single-pool YAML in front of `backends`. */
export async function startDynoproxy(
  ctx: LaunchContext,
  backends: readonly RunningServer[],
  options: { name?: string; workers: number; dataStore?: 0 | 1; timeoutMs?: number },
): Promise<RunningServer> {
  if (!existsSync(dynoproxyEntry)) {
    throw new Error(`${dynoproxyEntry} does not exist yet; leave dynoproxy out of --targets`);
  }
  const name = options.name ?? `dynoproxy-w${options.workers}`;
  const port = await freePort();
  const config = [
    'bench_pool:',
    `  listen: ${loopback}:${port}`,
    '  servers:',
    ...backends.map((b) => `    - ${b.host}:${b.port}:1`),
    `  data_store: ${options.dataStore ?? 0}`,
    `  timeout: ${options.timeoutMs ?? 5000}`,
    '',
  ].join('\n');
  const configPath = join(ctx.dir, `${name}.yml`);
  writeFileSync(configPath, config);
  const proc = ctx.group.start({
    name,
    command: projectNodeBinary(),
    args: [dynoproxyEntry, '-c', configPath, '--workers', String(options.workers)],
    cwd: repoRoot,
    logPath: join(ctx.dir, `${name}.log`),
  });
  return started(ctx, name, port, proc, options.workers);
}
