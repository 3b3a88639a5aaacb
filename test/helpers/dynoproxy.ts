// Spawns the real dynoproxy CLI (src/cli.ts on the pinned Node) with a YAML config in a temp dir, for integration tests.
// It must never start the proxy any other way than a user would, nor leave it running after the test.

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { stringify } from 'yaml'
import { ChildProcessHandle, registerTempDir, removeTempDir } from './child-process-handle.ts'
import type { ExitStatus } from './child-process-handle.ts'
import { freePort } from './free-port.ts'
import { startRedis } from './redis-server.ts'
import type { RedisServer } from './redis-server.ts'
import { GiveUp, canConnect, waitFor } from './wait-for.ts'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const NODE_BIN = path.join(REPO_ROOT, 'node_modules/.bin/node')
export const CLI_PATH = path.join(REPO_ROOT, 'src/cli.ts')

export type PoolConfig = Record<string, unknown>

export type Dynoproxy = {
  port: number
  pid: number
  configPath: string
  /** SIGTERM (the graceful drain), SIGKILL after graceMs; resolves with how it exited. */
  stop(graceMs?: number): Promise<ExitStatus>
  kill(signal?: NodeJS.Signals): void
  /** Last 64 KiB of the proxy's stdout/stderr (pino JSON lines). */
  output(): string
  readonly exited: Promise<ExitStatus>
}

export type StartDynoproxyOptions = {
  /** A config object ({ pool_name: { listen, servers, ... } }) or the YAML text itself. */
  config: Record<string, PoolConfig> | string
  /** Port(s) the config listens on (all are awaited); required with YAML text, read from the first `listen` otherwise. */
  port?: number | number[]
  workers?: number | 'auto'
  env?: Record<string, string>
  startDeadlineMs?: number
  /** The proxy's open-files limit (bash's `ulimit -n` before exec: the same pid), for tests of fd exhaustion. */
  openFiles?: number
}

function listenPortOf(config: Record<string, PoolConfig>): number {
  const pools = Object.values(config)
  const listen = pools[0]?.['listen']
  const match = typeof listen === 'string' ? /:(\d+)$/.exec(listen) : null
  if (match === null) throw new Error('config: first pool has no listen host:port')
  return Number(match[1])
}

/** Puts the proxy's error/fatal log lines (and an unexpected exit) on stderr, so a failing run shows why. */
function reportTrouble(output: string, unexpectedExit: ExitStatus | undefined, port: number): void {
  const troubles = output.split('\n').filter((line) => /"level":(50|60)\b/.test(line))
  if (troubles.length === 0 && unexpectedExit === undefined) return
  const head = unexpectedExit === undefined ? '' : `exited on its own: ${JSON.stringify(unexpectedExit)}\n`
  process.stderr.write(`--- dynoproxy :${port} reported trouble ---\n${head}${troubles.slice(-20).join('\n').slice(-8000)}\n`)
}

/**
 * Starts the proxy and waits until all its workers listen (its `listening` log line) and its ports accept connections.
 * Stopped in `t`'s teardown.
 */
export async function startDynoproxy(t: Test, opts: StartDynoproxyOptions): Promise<Dynoproxy> {
  if (!existsSync(CLI_PATH)) throw new Error(`dynoproxy CLI not found at ${CLI_PATH}`)
  const yamlText = typeof opts.config === 'string' ? opts.config : stringify(opts.config)
  const given = opts.port ?? (typeof opts.config === 'string' ? undefined : listenPortOf(opts.config))
  if (given === undefined) throw new Error('startDynoproxy: pass `port` with YAML text')
  const ports = Array.isArray(given) ? given : [given]
  const port = ports[0]!
  const dir = registerTempDir(mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-itest-')))
  const configPath = path.join(dir, 'dynoproxy.yml')
  writeFileSync(configPath, yamlText)
  const args = [CLI_PATH, '-c', configPath, '--workers', String(opts.workers ?? 1)]
  const proc = opts.openFiles === undefined
    ? new ChildProcessHandle(`dynoproxy:${port}`, NODE_BIN, args, { cwd: REPO_ROOT, env: { ...process.env, ...opts.env } })
    : new ChildProcessHandle(`dynoproxy:${port}`, '/bin/bash', ['-c', `ulimit -n ${Math.floor(opts.openFiles)} && exec "$0" "$@"`, NODE_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...opts.env },
    })
  t.teardown(async () => {
    // Stopped before this teardown (a test's own stop, or startCluster's teardown stopping every node at once): not news.
    const diedEarly = proc.hasExited && !proc.stopRequested
    const status = await proc.stop()
    removeTempDir(dir)
    // A clean exit 0 before teardown is a test's own SIGTERM; anything else is news.
    reportTrouble(proc.output(), diedEarly && status.code !== 0 ? status : undefined, port)
  })
  try {
    await waitFor(
      async () => {
        if (proc.hasExited) throw new GiveUp(`dynoproxy exited during startup`)
        // One worker listening already accepts; the supervisor logs "listening" once every worker is.
        if (!/"msg":"listening"/.test(proc.output())) return false
        return (await Promise.all(ports.map((p) => canConnect(p)))).every(Boolean)
      },
      opts.startDeadlineMs ?? 15_000,
      `dynoproxy to listen on ${ports.join(', ')}`,
      20,
    )
  } catch (err) {
    await proc.stop()
    throw new Error(`${(err as Error).message}\n--- config ---\n${yamlText}\n--- dynoproxy output (tail) ---\n${proc.output().slice(-6000)}`)
  }
  return {
    port,
    pid: proc.pid,
    configPath,
    stop: (graceMs?: number) => proc.stop(graceMs),
    kill: (signal: NodeJS.Signals = 'SIGKILL') => proc.kill(signal),
    output: () => proc.output(),
    exited: proc.exited,
  }
}

export type ProxiedRedis = {
  proxy: Dynoproxy
  backends: RedisServer[]
  /** The port clients use (the proxy's). */
  port: number
  pool: PoolConfig
}

export type StartProxiedRedisOptions = {
  backends: number
  /** Pool keys overriding the defaults below (timeout, auto_eject_hosts, requirepass, ...). */
  pool?: PoolConfig
  /** Extra redis-server arguments for every backend. */
  redisArgs?: string[]
  /** Password the helpers use to reach the backends directly (when redisArgs set --requirepass). */
  redisPassword?: string
  workers?: number
  env?: Record<string, string>
  /** See StartDynoproxyOptions.openFiles. */
  openFiles?: number
}

/**
 * Default pool for tests: the contract's example, with a generous request timeout. Pass `statsPort` to give the
 * admin API a port of its own (concurrent proxies would otherwise all try the default 22222).
 */
export function defaultPool(listenPort: number, backends: readonly RedisServer[], statsPort?: number): PoolConfig {
  return {
    listen: `127.0.0.1:${listenPort}`,
    ...(statsPort === undefined ? {} : { stats_listen: `127.0.0.1:${statsPort}` }),
    servers: backends.map((b) => `127.0.0.1:${b.port}:1`),
    data_store: 0,
    hash: 'murmur',
    distribution: 'ketama',
    hash_tag: '{}',
    timeout: 3000,
    server_retry_timeout: 500,
    server_failure_limit: 2,
    auto_eject_hosts: false,
    preconnect: true,
  }
}

/**
 * N fresh redis-servers and one dynoproxy in front of them.
 * DYNOPROXY_ITEST_TARGET=direct points `port` at backend 0 instead (debugging the tests; proxy-only checks then fail).
 */
export async function startProxiedRedis(t: Test, opts: StartProxiedRedisOptions): Promise<ProxiedRedis> {
  const backends = await Promise.all(
    Array.from({ length: opts.backends }, () => startRedis(t, { args: opts.redisArgs, password: opts.redisPassword })),
  )
  const port = await freePort()
  const pool = { ...defaultPool(port, backends, await freePort()), ...opts.pool }
  if (process.env['DYNOPROXY_ITEST_TARGET'] === 'direct') {
    const b = backends[0]!
    const standIn: Dynoproxy = { port: b.port, pid: b.pid, configPath: '', stop: () => b.stop(), kill: (s) => b.kill(s), output: () => b.output(), exited: b.exited }
    return { proxy: standIn, backends, port: b.port, pool }
  }
  const proxy = await startDynoproxy(t, {
    config: { test_pool: pool },
    workers: opts.workers ?? 1,
    env: opts.env,
    openFiles: opts.openFiles,
  })
  return { proxy, backends, port, pool }
}
