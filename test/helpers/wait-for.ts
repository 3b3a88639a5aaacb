// Polling with deadlines, the only way tests here wait for another process to reach a state.
// It must never be replaced by a fixed sleep: every wait ends as soon as its condition holds.

import net from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'

/** Thrown by a polled condition to stop waiting at once (e.g. the process being waited on died). */
export class GiveUp extends Error {}

/**
 * Polls `cond` until it returns true (or a truthy value, which is returned) or the deadline passes.
 * Errors thrown by `cond` count as "not yet" (the last one is reported on timeout), except GiveUp.
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  deadlineMs: number,
  what = 'condition',
  intervalMs = 20,
): Promise<NonNullable<T>> {
  const until = Date.now() + deadlineMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await cond()
      if (value) return value as NonNullable<T>
    } catch (err) {
      if (err instanceof GiveUp) throw err
      lastError = err
    }
    if (Date.now() >= until) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${why}`)
    }
    await delay(intervalMs)
  }
}

/** True once a TCP connect to host:port succeeds; the probe connection is closed at once. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host })
    const timer = setTimeout(() => finish(false), timeoutMs)
    function finish(ok: boolean): void {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    socket.once('connect', () => finish(true))
    socket.once('error', () => finish(false))
  })
}

export async function waitForPort(port: number, deadlineMs: number, host = '127.0.0.1'): Promise<void> {
  await waitFor(() => canConnect(port, host), deadlineMs, `TCP port ${host}:${port}`)
}

/** Rejects if `promise` has not settled within ms; for bounding a single awaited step. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}
