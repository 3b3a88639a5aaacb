// Real memcached processes on loopback for integration tests, and dynoproxy pools (data_store: 1) in front of them.
// It must never bind beyond 127.0.0.1 nor leave a memcached or proxy running after the test.

import type { Test } from 'tap'
import { ChildProcessHandle } from './child-process-handle.ts'
import type { ExitStatus } from './child-process-handle.ts'
import { startDynoproxy } from './dynoproxy.ts'
import type { Dynoproxy, PoolConfig } from './dynoproxy.ts'
import { freePort } from './free-port.ts'
import { McConnection, mcCallOnce } from './memcached-connection.ts'
import type { McReply } from './memcached-reply-reader.ts'
import { GiveUp, waitFor } from './wait-for.ts'

export type MemcachedServer = {
  port: number
  pid: number
  /** SIGCONT + SIGTERM then SIGKILL; resolves when the process is gone. */
  stop(): Promise<ExitStatus>
  kill(signal?: NodeJS.Signals): void
  /** One request on a fresh side connection (for checking what the server holds). */
  call(request: Buffer | string): Promise<McReply>
  output(): string
  readonly exited: Promise<ExitStatus>
}

export type StartMemcachedOptions = {
  /** Fixed port (to restart a killed backend in place); a free one otherwise. */
  port?: number
  /** Extra memcached arguments, appended after the defaults (a later -I or -m wins). */
  args?: string[]
  startDeadlineMs?: number
}

const PORT_ATTEMPTS = 5
/** Item size limit of every test memcached; the proxy pools below use the same as max_request_bytes. */
export const ITEM_SIZE_LIMIT = 2 * 1024 * 1024

/** Starts `memcached -l 127.0.0.1 -p <port> -U 0 -I 2m` and waits until it answers `version`. Stopped in `t`'s teardown. */
export async function startMemcached(t: Test, opts: StartMemcachedOptions = {}): Promise<MemcachedServer> {
  let lastError: unknown
  for (let attempt = 0; attempt < (opts.port === undefined ? PORT_ATTEMPTS : 1); attempt++) {
    const port = opts.port ?? (await freePort())
    try {
      return await startOn(t, port, opts)
    } catch (err) {
      lastError = err
    }
  }
  throw lastError
}

async function startOn(t: Test, port: number, opts: StartMemcachedOptions): Promise<MemcachedServer> {
  // As root, memcached refuses to start unless told which user to run as.
  const asRoot = process.getuid?.() === 0 ? ['-u', 'root'] : []
  const proc = new ChildProcessHandle(`memcached:${port}`, 'memcached', [
    ...asRoot,
    '-l', '127.0.0.1',
    '-p', String(port),
    '-U', '0',
    '-I', '2m',
    ...(opts.args ?? []),
  ])
  t.teardown(() => proc.stop())
  try {
    await waitFor(
      async () => {
        if (proc.hasExited) throw new GiveUp(`memcached on ${port} exited early`)
        const reply = await mcCallOnce(port, 'version\r\n', 1000)
        return reply.head.startsWith('VERSION ')
      },
      opts.startDeadlineMs ?? 10_000,
      `memcached on ${port} to answer version`,
      10,
    )
  } catch (err) {
    await proc.stop()
    throw new Error(`${(err as Error).message}\n--- memcached output ---\n${proc.output()}`)
  }
  return {
    port,
    pid: proc.pid,
    stop: () => proc.stop(),
    kill: (signal: NodeJS.Signals = 'SIGKILL') => proc.kill(signal),
    call: (request) => mcCallOnce(port, request),
    output: () => proc.output(),
    exited: proc.exited,
  }
}

export type ProxiedMemcached = {
  proxy: Dynoproxy
  backends: MemcachedServer[]
  /** The port clients use (the proxy's). */
  port: number
  pool: PoolConfig
}

export type StartProxiedMemcachedOptions = {
  backends: number
  /** Pool keys overriding the defaults below. */
  pool?: PoolConfig
  /** Extra memcached arguments for every backend. */
  memcachedArgs?: string[]
  workers?: number
}

/** The task's example pool for memcached: murmur + ketama, 1 s timeout, no ejection, 2 MiB requests. */
export function defaultMemcachedPool(listenPort: number, backends: readonly MemcachedServer[]): PoolConfig {
  return {
    listen: `127.0.0.1:${listenPort}`,
    data_store: 1,
    servers: backends.map((b) => `127.0.0.1:${b.port}:1`),
    hash: 'murmur',
    distribution: 'ketama',
    timeout: 1000,
    server_retry_timeout: 500,
    server_failure_limit: 2,
    auto_eject_hosts: false,
    max_request_bytes: ITEM_SIZE_LIMIT,
  }
}

/** N fresh memcached processes and one dynoproxy (data_store: 1) in front of them. */
export async function startProxiedMemcached(t: Test, opts: StartProxiedMemcachedOptions): Promise<ProxiedMemcached> {
  const backends = await Promise.all(Array.from({ length: opts.backends }, () => startMemcached(t, { args: opts.memcachedArgs })))
  const port = await freePort()
  const pool = { ...defaultMemcachedPool(port, backends), ...opts.pool }
  const proxy = await startDynoproxy(t, { config: { mc_pool: pool }, workers: opts.workers ?? 1 })
  return { proxy, backends, port, pool }
}

/** For each key, the indexes of the backends that hold it, asked directly with `mg <key>` (no proxy involved). */
export async function mcHoldersOf(backends: readonly MemcachedServer[], keys: readonly string[]): Promise<number[][]> {
  const found = await Promise.all(
    backends.map(async (b) => {
      const conn = await McConnection.connect(b.port)
      try {
        conn.write(keys.map((k) => `mg ${k}\r\n`).join(''))
        return (await conn.read(keys.length, 10_000)).map((r) => r.head === 'HD')
      } finally {
        conn.destroy()
      }
    }),
  )
  return keys.map((_, ki) => backends.map((_, bi) => bi).filter((bi) => found[bi]![ki]))
}

/** The one backend index holding each key; throws if a key is on none or several. */
export async function mcOwnersOf(backends: readonly MemcachedServer[], keys: readonly string[]): Promise<number[]> {
  const holders = await mcHoldersOf(backends, keys)
  return holders.map((h, i) => {
    if (h.length !== 1) throw new Error(`key ${keys[i]} is held by backends [${h.join(',')}], expected exactly one`)
    return h[0]!
  })
}
