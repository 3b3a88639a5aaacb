// Differential testing: the same command sequence against a direct redis-server and through dynoproxy, replies compared.
// It must never loosen a comparison silently: every non-exact step says how (unordered, approximate) it is compared.

import type { Test } from 'tap'
import { startProxiedRedis } from './dynoproxy.ts'
import { startRedis } from './redis-server.ts'
import type { RedisServer } from './redis-server.ts'
import { RespConnection } from './resp-connection.ts'
import type { CommandArg } from './resp-connection.ts'
import { plain } from './resp-reply-reader.ts'
import type { RespReply } from './resp-reply-reader.ts'

/**
 * How a step's replies are compared.
 * - exact: same type and bytes
 * - unordered: an array whose order Redis does not define (SMEMBERS of a hashtable set)
 * - approx: integers within the given distance (TTL, PTTL read at slightly different times)
 * - error: both are errors (the wording may legitimately differ, e.g. it names a script sha)
 * - same-kind: same reply type, value not compared (random members)
 */
export type Compare = 'exact' | 'unordered' | { approx: number } | 'error' | 'same-kind'

export type Step = { cmd: CommandArg[]; cmp: Compare }

export function step(...cmd: CommandArg[]): Step {
  return { cmd, cmp: 'exact' }
}
export function unordered(...cmd: CommandArg[]): Step {
  return { cmd, cmp: 'unordered' }
}
export function approx(distance: number, ...cmd: CommandArg[]): Step {
  return { cmd, cmp: { approx: distance } }
}
export function anyError(...cmd: CommandArg[]): Step {
  return { cmd, cmp: 'error' }
}
export function sameKind(...cmd: CommandArg[]): Step {
  return { cmd, cmp: 'same-kind' }
}

export type DiffTarget = { name: string; port: number; backends: RedisServer[] }

export type DiffTargets = { reference: RedisServer; targets: DiffTarget[] }

/**
 * A reference redis-server plus dynoproxy with 1 backend and with 3 backends.
 * DYNOPROXY_ITEST_TARGET=direct replaces each proxy by one more direct redis-server (to debug the tests themselves).
 */
export async function startDiffTargets(t: Test): Promise<DiffTargets> {
  const reference = await startRedis(t)
  if (process.env['DYNOPROXY_ITEST_TARGET'] === 'direct') {
    const a = await startRedis(t)
    const b = await startRedis(t)
    return {
      reference,
      targets: [
        { name: 'direct stand-in A', port: a.port, backends: [a] },
        { name: 'direct stand-in B', port: b.port, backends: [b] },
      ],
    }
  }
  const [one, three] = await Promise.all([
    startProxiedRedis(t, { backends: 1 }),
    startProxiedRedis(t, { backends: 3 }),
  ])
  return {
    reference,
    targets: [
      { name: 'proxy, 1 backend', port: one.port, backends: one.backends },
      { name: 'proxy, 3 backends', port: three.port, backends: three.backends },
    ],
  }
}

/** Runs the steps as one pipeline on a fresh connection and returns the replies. */
export async function runSteps(port: number, steps: readonly Step[], deadlineMs = 15_000): Promise<RespReply[]> {
  const conn = await RespConnection.connect(port)
  try {
    return await conn.pipeline(
      steps.map((s) => s.cmd),
      deadlineMs,
    )
  } finally {
    conn.destroy()
  }
}

function describe(cmd: readonly CommandArg[]): string {
  const text = cmd.map((a) => (Buffer.isBuffer(a) ? `<${a.length} bytes>` : String(a))).join(' ')
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}

function sortKey(value: unknown): string {
  return JSON.stringify(value)
}

/** Asserts one reply against the reference reply per the step's comparison. */
export function compareReply(t: Test, s: Step, got: RespReply | undefined, want: RespReply | undefined, label: string): void {
  const msg = `${label}: ${describe(s.cmd)}`
  if (got === undefined || want === undefined) {
    t.fail(`${msg}: missing reply`)
    return
  }
  const cmp = s.cmp
  if (cmp === 'exact') {
    t.same(plain(got), plain(want), msg)
  } else if (cmp === 'unordered') {
    const g = plain(got)
    const w = plain(want)
    if (Array.isArray(g) && Array.isArray(w)) {
      t.same([...g].sort((a, b) => sortKey(a).localeCompare(sortKey(b))), [...w].sort((a, b) => sortKey(a).localeCompare(sortKey(b))), msg)
    } else {
      t.same(g, w, msg)
    }
  } else if (cmp === 'error') {
    t.ok(got.kind === 'error' && want.kind === 'error', `${msg}: both errors`, { got: plain(got), want: plain(want) })
  } else if (cmp === 'same-kind') {
    t.equal(got.kind, want.kind, `${msg}: same reply type`)
  } else {
    if (got.kind === 'integer' && want.kind === 'integer') {
      const distance = got.value > want.value ? got.value - want.value : want.value - got.value
      t.ok(distance <= BigInt(cmp.approx), `${msg}: within ${cmp.approx}`, { got: plain(got), want: plain(want) })
    } else {
      t.same(plain(got), plain(want), msg)
    }
  }
}

/**
 * Runs `steps` on the reference and on every target (each on its own server state), comparing reply by reply.
 * Returns the reference replies for tests that want to assert on them too.
 */
export async function differential(t: Test, env: DiffTargets, steps: readonly Step[]): Promise<RespReply[]> {
  const [want, ...gots] = await Promise.all([
    runSteps(env.reference.port, steps),
    ...env.targets.map((target) => runSteps(target.port, steps)),
  ])
  if (process.env['DYNOPROXY_ITEST_DUMP'] === '1') {
    steps.forEach((s, i) => t.comment(`${describe(s.cmd)} -> ${JSON.stringify(plain(want![i]!))}`))
  }
  for (let ti = 0; ti < env.targets.length; ti++) {
    const got = gots[ti]!
    t.equal(got.length, want!.length, `${env.targets[ti]!.name}: reply count`)
    for (let i = 0; i < steps.length; i++) {
      compareReply(t, steps[i]!, got[i], want![i], env.targets[ti]!.name)
    }
  }
  return want!
}
