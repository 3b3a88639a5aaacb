// Real redis-server processes on loopback for integration tests, started fresh and stopped in teardown.
// It must never persist data or bind beyond 127.0.0.1, and never leave a server running after the test.

import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { ChildProcessHandle, registerTempDir, removeTempDir } from './child-process-handle.ts'
import type { ExitStatus } from './child-process-handle.ts'
import { freePort } from './free-port.ts'
import { RespConnection, callOnce } from './resp-connection.ts'
import type { CommandArg } from './resp-connection.ts'
import type { RespReply } from './resp-reply-reader.ts'
import { GiveUp, waitFor } from './wait-for.ts'

export type RedisServer = {
  port: number
  pid: number
  /** SIGTERM then SIGKILL; resolves when the process is gone. */
  stop(): Promise<ExitStatus>
  kill(signal?: NodeJS.Signals): void
  /** One command on a fresh side connection (for checking what the server holds). */
  call(...args: CommandArg[]): Promise<RespReply>
  output(): string
  readonly exited: Promise<ExitStatus>
}

export type StartRedisOptions = {
  /** Fixed port (e.g. to restart a killed backend in place); a free one otherwise. */
  port?: number
  /** Extra redis-server arguments, e.g. ['--requirepass', 'pw']. */
  args?: string[]
  /** Password the helper uses for its own readiness PING and `call`. */
  password?: string
  startDeadlineMs?: number
}

const PORT_ATTEMPTS = 5

/** Starts redis-server and waits until it answers PING. Stopped automatically in `t`'s teardown. */
export async function startRedis(t: Test, opts: StartRedisOptions = {}): Promise<RedisServer> {
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

async function startOn(t: Test, port: number, opts: StartRedisOptions): Promise<RedisServer> {
  const dir = registerTempDir(mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-itest-redis-')))
  const proc = new ChildProcessHandle(`redis-server:${port}`, 'redis-server', [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no',
    '--logfile', '',
    '--enable-debug-command', 'local',
    ...(opts.args ?? []),
  ])
  t.teardown(async () => {
    await proc.stop()
    removeTempDir(dir)
  })
  const auth: CommandArg[][] = opts.password === undefined ? [] : [['AUTH', opts.password]]
  const call = async (...args: CommandArg[]): Promise<RespReply> => {
    if (auth.length === 0) return callOnce(port, args)
    const conn = await RespConnection.connect(port)
    try {
      const replies = await conn.pipeline([...auth, args])
      return replies[replies.length - 1]!
    } finally {
      conn.destroy()
    }
  }
  try {
    await waitFor(
      async () => {
        if (proc.hasExited) throw new GiveUp(`redis-server on ${port} exited early`)
        const reply = await call('PING')
        return reply.kind === 'simple' && reply.value === 'PONG'
      },
      opts.startDeadlineMs ?? 10_000,
      `redis-server on ${port} to answer PING`,
      10,
    )
  } catch (err) {
    await proc.stop()
    throw new Error(`${(err as Error).message}\n--- redis-server output ---\n${proc.output()}`)
  }
  return {
    port,
    pid: proc.pid,
    stop: () => proc.stop(),
    kill: (signal: NodeJS.Signals = 'SIGKILL') => proc.kill(signal),
    call,
    output: () => proc.output(),
    exited: proc.exited,
  }
}
