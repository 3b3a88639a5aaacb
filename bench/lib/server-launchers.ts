// Starts the servers a benchmark compares: redis-server, memcached, nutcracker (twemproxy), dynoproxy.
// Never binds beyond loopback, never persists data to disk, never returns before the port accepts.
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { portListeners, readOpenFileLimit } from './proc-stats.ts';
import type { ManagedProcess, ProcessGroup } from './process-group.ts';
import { waitUntil } from './wait-for-port.ts';

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

/** Another process holds the port (the free-port probe raced with it); the caller retries on a new port. */
export class PortTakenError extends Error {}

const addressInUse = /EADDRINUSE|address already in use/i;

/**
 * Resolves when `proc` itself listens on `port`. Connecting is not enough: if another process
 * grabbed the port first, a connect would succeed and we would benchmark a stranger's server.
 */
async function started(ctx: LaunchContext, name: string, port: number, proc: ManagedProcess, workers = 1): Promise<RunningServer> {
  const deadlineMs = ctx.startDeadlineMs ?? 15_000;
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (!proc.running) {
      await proc.exited;
      const tail = proc.logTail();
      if (addressInUse.test(tail)) throw new PortTakenError(`${name}: port ${port} taken`);
      throw new Error(`${name} exited before listening on ${loopback}:${port}:\n${tail}`);
    }
    const listeners = portListeners(proc.pid, port);
    if (listeners.foreign > 0) throw new PortTakenError(`${name}: another process also listens on ${port}`);
    if (listeners.own > 0) break;
    if (Date.now() > deadline) {
      throw new Error(`${name} not listening on ${loopback}:${port} after ${deadlineMs} ms:\n${proc.logTail()}`);
    }
    await sleep(20);
  }
  // With SO_REUSEPORT each worker has its own listening socket; until all exist, the first takes every client.
  const allWorkersListening = workers <= 1 || (await waitUntil(() => portListeners(proc.pid, port).own >= workers, 3000));
  return { name, host: loopback, port, process: proc, workers, allWorkersListening };
}

/** Starts a server on a fresh free port, again on another port if something else took it meanwhile. */
export async function launchOnFreePort(
  ctx: LaunchContext,
  name: string,
  workers: number,
  launch: (port: number) => Promise<ManagedProcess>,
): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = await launch(port);
    try {
      return await started(ctx, name, port, proc, workers);
    } catch (err) {
      await proc.stop();
      if (!(err instanceof PortTakenError) || attempt >= 3) throw err;
    }
  }
}

/** Throws if the server died or someone else now shares its port; call between measured runs. */
export function assertServing(server: RunningServer): void {
  if (!server.process.running) {
    throw new Error(`${server.name} (pid ${server.process.pid}) ended during the benchmark by ${server.process.describeExit()}:\n${server.process.logTail()}`);
  }
  if (portListeners(server.process.pid, server.port).foreign > 0) {
    throw new Error(`another process started listening on ${server.name}'s port ${server.port}`);
  }
}

export async function startRedisServer(ctx: LaunchContext, name = 'redis-server', extraArgs: readonly string[] = []): Promise<RunningServer> {
  return launchOnFreePort(ctx, name, 1, async (port) => ctx.group.start({
    name,
    command: 'redis-server',
    args: [
      '--port', String(port), '--bind', loopback, '--save', '', '--appendonly', 'no',
      '--dir', ctx.dir, '--daemonize', 'no', '--maxclients', '100000', ...extraArgs,
    ],
    logPath: join(ctx.dir, `${name}.log`),
  }));
}

function maxConnections(): number {
  const { soft } = readOpenFileLimit();
  return Math.max(64, Math.min(100_000, soft - 64));
}

export async function startMemcached(ctx: LaunchContext, name = 'memcached', extraArgs: readonly string[] = []): Promise<RunningServer> {
  return launchOnFreePort(ctx, name, 1, async (port) => ctx.group.start({
    name,
    command: 'memcached',
    // memcached refuses to run as root unless told which user to stay.
    // -c above the open-file limit makes memcached refuse to start; leave it room for its own fds.
    args: ['-l', loopback, '-p', String(port), '-U', '0', '-c', String(maxConnections()), ...(process.getuid?.() === 0 ? ['-u', 'root'] : []), ...extraArgs],
    logPath: join(ctx.dir, `${name}.log`),
  }));
}

/** nutcracker with one pool in front of `backends`, hashed like dynoproxy's twemproxy-style configs. */
export async function startTwemproxy(
  ctx: LaunchContext,
  backends: readonly RunningServer[],
  options: { name?: string; redis?: boolean; timeoutMs?: number } = {},
): Promise<RunningServer> {
  const name = options.name ?? 'twemproxy';
  return launchOnFreePort(ctx, name, 1, async (port) => {
    const statsPort = await freePort();
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
    // nutcracker logs to its -o file, so its bind errors are there, not on stdout.
    const logPath = join(ctx.dir, `${name}.log`);
    return ctx.group.start({
      name,
      command: 'nutcracker',
      args: ['-c', configPath, '-s', String(statsPort), '-a', loopback, '-o', logPath],
      logPath,
    });
  });
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
  return launchOnFreePort(ctx, name, options.workers, async (port) => {
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
    return ctx.group.start({
      name,
      command: projectNodeBinary(),
      args: [dynoproxyEntry, '-c', configPath, '--workers', String(options.workers)],
      cwd: repoRoot,
      logPath: join(ctx.dir, `${name}.log`),
    });
  });
}
