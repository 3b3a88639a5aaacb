// The fuzz suite's engine: the seed and time budget, byte mutations, and one fuzz connection driven through a real socket to its deadline.
// It must never let a fuzz socket outlive its deadline, nor hide which seed and input made a check fail.

import net from 'node:net'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import type { Test } from 'tap'

/** Whole suite's fuzzing time (s): 60 in CI; DYNOPROXY_FUZZ_SECONDS runs it longer by hand. Each file takes its share. */
export const FUZZ_SECONDS = Number(process.env['DYNOPROXY_FUZZ_SECONDS'] ?? 60)
/** DYNOPROXY_FUZZ_SEED replays a run; otherwise a fresh seed, printed. */
export const SEED = process.env['DYNOPROXY_FUZZ_SEED'] !== undefined ? Number(process.env['DYNOPROXY_FUZZ_SEED']) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
/** DYNOPROXY_FUZZ_FIRST_BATCH starts a replay at that batch (the batches before it are skipped, not run). */
export const FIRST_BATCH = Number(process.env['DYNOPROXY_FUZZ_FIRST_BATCH'] ?? 0)
/** How long a connection whose input is complete commands may stay silent and open after its input ended. */
export const HANG_MS = 5000
/** Fuzz connections open at once in one batch. */
export const BATCH = 24

/** The share of the suite's time for one of the three files (they run two at a time, plus start-up). */
export function fileBudgetMs(): number {
  return Math.max(2000, (FUZZ_SECONDS * 1000) / 4)
}

export function seedNote(file: string): string {
  return `${file}: replay with DYNOPROXY_FUZZ_SEED=${SEED} (DYNOPROXY_FUZZ_SECONDS=${FUZZ_SECONDS}; DYNOPROXY_FUZZ_FIRST_BATCH=n starts at batch n)`
}

/** One fuzz input: the bytes in the pieces they are written in, and what the peer must do with them. */
export type FuzzInput = {
  what: string
  chunks: Buffer[]
  /** The input is whole requests: at least `expect` answers (as counted by `answers`) or a close must come within HANG_MS. */
  complete: boolean
  expect: number
}

/** What came back on one fuzz connection. */
export type Outcome = {
  received: Buffer
  closed: boolean
  answers: number
  invalid: string | null
  hung: boolean
  /** Why the connection or the prelude (a handshake) failed before the input was written; null when it was written. */
  setupError: string | null
}

/** Fed each piece received, counts the whole answers so far; throws on bytes no valid reply stream can start with. One per connection. */
export type AnswerCounter = (chunk: Buffer) => number

/** Writes `input` piece by piece (each its own write, with a turn between), then waits for the answers, a close, or the deadline. */
export function fuzzConnection(port: number, input: FuzzInput, newCounter: () => AnswerCounter, quietMs: number, prelude?: (s: net.Socket) => Promise<void>): Promise<Outcome> {
  return new Promise((resolve) => {
    const count = newCounter()
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.setNoDelay(true)
    const chunks: Buffer[] = []
    let closed = false
    let settled = false
    let invalid: string | null = null
    let answers = 0
    let setupError: string | null = 'no connection'
    let timer: NodeJS.Timeout | undefined
    const received = (): Buffer => Buffer.concat(chunks)
    const finish = (hung: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(hardStop)
      socket.destroy()
      resolve({ received: received(), closed, answers, invalid, hung, setupError })
    }
    // Whatever happens, the socket is gone by then (a prelude or a write that never drains cannot keep it).
    const hardStop = setTimeout(() => finish(input.complete), HANG_MS + 20_000)
    socket.on('data', (d: Buffer) => {
      chunks.push(d)
      // What a prelude (a handshake, an AUTH) reads is its own business.
      if (invalid !== null || setupError !== null) return
      try {
        answers = count(d)
      } catch (err) {
        invalid = (err as Error).message
      }
      if (input.complete && answers >= input.expect && !settled && timer !== undefined) finish(false)
    })
    socket.on('close', () => {
      closed = true
      finish(false)
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (setupError === 'no connection') setupError = `connect: ${err.code ?? err.message}`
    })
    socket.on('connect', () => {
      setupError = prelude === undefined ? null : 'prelude unfinished'
      void (async () => {
        if (prelude !== undefined) {
          try {
            await prelude(socket)
          } catch (err) {
            setupError = `prelude: ${(err as Error).message}`
            return finish(false)
          }
          setupError = null
        }
        for (const c of input.chunks) {
          if (socket.destroyed) return
          socket.write(c)
          await new Promise((r) => setImmediate(r))
        }
        if (input.complete && answers >= input.expect) return finish(false)
        timer = setTimeout(() => finish(input.complete), input.complete ? HANG_MS : quietMs)
      })().catch(() => finish(false))
    })
  })
}

/** Runs batches of fuzz connections until `budgetMs` is spent; `check` runs after every batch (canary, pid, RSS). */
export async function fuzzFor(
  t: Test,
  name: string,
  budgetMs: number,
  inputs: fc.Arbitrary<FuzzInput>,
  run: (input: FuzzInput) => Promise<Outcome>,
  check: (batch: number) => Promise<void>,
): Promise<{ connections: number; hangs: number; closed: number; answered: number }> {
  const until = Date.now() + budgetMs
  const stats = { connections: 0, hangs: 0, closed: 0, answered: 0 }
  for (let batch = FIRST_BATCH; Date.now() < until && batch < FIRST_BATCH + 100_000; batch++) {
    const sample = fc.sample(inputs, { seed: SEED + batch * 7919, numRuns: BATCH })
    const outcomes = await Promise.all(sample.map((input) => run(input)))
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]!
      const input = sample[i]!
      stats.connections++
      if (o.closed) stats.closed++
      if (o.answers > 0) stats.answered++
      const where = `${name} batch ${batch} #${i} (${input.what}), seed ${SEED}: input ${hexOf(input.chunks)}`
      if (o.setupError !== null) {
        t.fail(`the fuzz input could not be written: ${o.setupError}`, { where })
        continue
      }
      // The proxy's word for a backend connection that lost step with its requests: always a proxy bug, for whoever gets it.
      if (o.received.includes('Protocol error from the datastore')) t.fail('a backend connection lost step (Protocol error from the datastore)', { where, received: o.received.subarray(0, 2000).toString('latin1') })
      if (o.invalid !== null) t.fail(`not a valid reply stream: ${o.invalid}`, { where, received: o.received.subarray(0, 2000).toString('latin1') })
      if (o.hung) {
        stats.hangs++
        t.fail(`neither answered (${o.answers}/${input.expect}) nor closed within ${HANG_MS} ms after a complete input`, { where, received: o.received.subarray(0, 2000).toString('latin1') })
      }
    }
    await check(batch)
    if (t.counts.fail > 0) break
  }
  return stats
}

export function hexOf(chunks: readonly Buffer[]): string {
  const all = Buffer.concat(chunks)
  const shown = all.subarray(0, 4096).toString('latin1').replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
  return `${all.length} bytes in ${chunks.length} pieces: ${shown}${all.length > 4096 ? '...' : ''}`
}

/** The process's resident set (VmRSS, bytes) from /proc. */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1]) * 1024
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Log lines at error/fatal level, or a worker's crash, in a proxy's output. */
export function troubleLines(output: string): string[] {
  return output.split('\n').filter((line) => /"level":(50|60)\b/.test(line) || /crash|uncaught/i.test(line))
}

// ---- byte mutations ----

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'duplicate'; at: number; len: number }
  | { op: 'number'; nth: number; value: string }

/** Odd numbers for length fields: huge, negative, overflowing, not numbers at all. */
export const ODD_NUMBERS = [
  '-1', '-2', '-5', '-2147483649', '0', '2147483647', '2147483648', '4294967296', '9007199254740993', '99999999999999999999999',
  '536870912', '1048577', '+1', '1e3', '0x10', ' 1', '1 ', '', 'abc', '٣', '1.5', '--1',
]

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(...['\r\n', '\r', '\n', '*', '$', '\0', ':', '-', '+', '*1\r\n', '$-1\r\n'].map((s) => new Uint8Array(Buffer.from(s))))) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('number' as const), nth: fc.nat(), value: fc.constantFrom(...ODD_NUMBERS) }),
)

/** Applies mutations in order; positions are taken modulo the current length. `number` rewrites the nth run of digits. */
export function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = input
  for (const m of mutations) {
    const n = b.length
    if (n === 0) break
    switch (m.op) {
      case 'flip': {
        b = Buffer.from(b)
        b[m.at % n] = b[m.at % n]! ^ (1 << m.bit)
        break
      }
      case 'truncate':
        b = b.subarray(0, m.at % n)
        break
      case 'insert':
        b = Buffer.concat([b.subarray(0, m.at % (n + 1)), m.bytes, b.subarray(m.at % (n + 1))])
        break
      case 'delete':
        b = Buffer.concat([b.subarray(0, m.at % n), b.subarray((m.at % n) + m.len)])
        break
      case 'duplicate': {
        const from = m.at % n
        b = Buffer.concat([b.subarray(0, from + m.len), b.subarray(from)])
        break
      }
      case 'number': {
        const text = b.toString('latin1')
        const runs = [...text.matchAll(/-?\d+/g)]
        if (runs.length === 0) break
        const r = runs[m.nth % runs.length]!
        b = Buffer.concat([b.subarray(0, r.index), Buffer.from(m.value, 'latin1'), b.subarray(r.index + r[0].length)])
        break
      }
    }
  }
  return b
}

/** Cuts bytes at the given boundaries (taken modulo the length): the pieces a reader may see. */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  if (bytes.length === 0) return [bytes]
  const at = [...new Set(cuts.map((c) => c % bytes.length))].filter((c) => c > 0).sort((a, b) => a - b)
  const out: Buffer[] = []
  let from = 0
  for (const c of at) {
    out.push(bytes.subarray(from, c))
    from = c
  }
  out.push(bytes.subarray(from))
  return out
}

export const cutsArb = fc.array(fc.nat(), { maxLength: 6 })
