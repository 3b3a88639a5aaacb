// Asks redis-server backends directly which of them hold which keys, to check where the proxy put data.
// It must never go through the proxy: its answers are the ground truth the proxy is judged against.

import type { RedisServer } from './redis-server.ts'
import { RespConnection } from './resp-connection.ts'
import type { CommandArg } from './resp-connection.ts'
import type { RespReply } from './resp-reply-reader.ts'

/** Runs the same commands on every backend (one pipeline each); result[backend][command]. */
export async function onEachBackend(backends: readonly RedisServer[], commands: readonly (readonly CommandArg[])[]): Promise<RespReply[][]> {
  return Promise.all(
    backends.map(async (b) => {
      const conn = await RespConnection.connect(b.port)
      try {
        return await conn.pipeline(commands, 15_000)
      } finally {
        conn.destroy()
      }
    }),
  )
}

/** For each key, the indexes of the backends holding it (normally exactly one). */
export async function holdersOf(backends: readonly RedisServer[], keys: readonly CommandArg[]): Promise<number[][]> {
  const replies = await onEachBackend(
    backends,
    keys.map((k) => ['EXISTS', k]),
  )
  return keys.map((_, ki) => {
    const holders: number[] = []
    replies.forEach((perBackend, bi) => {
      const r = perBackend[ki]
      if (r?.kind === 'integer' && r.value === 1n) holders.push(bi)
    })
    return holders
  })
}

/** The single backend index holding each key; throws if a key is on none or several. */
export async function ownersOf(backends: readonly RedisServer[], keys: readonly CommandArg[]): Promise<number[]> {
  const holders = await holdersOf(backends, keys)
  return holders.map((h, i) => {
    if (h.length !== 1) throw new Error(`key ${String(keys[i])} is held by backends [${h.join(',')}], expected exactly one`)
    return h[0]!
  })
}

export async function dbsizes(backends: readonly RedisServer[]): Promise<number[]> {
  const replies = await onEachBackend(backends, [['DBSIZE']])
  return replies.map((r) => {
    const reply = r[0]
    if (reply?.kind !== 'integer') throw new Error('DBSIZE did not return an integer')
    return Number(reply.value)
  })
}
