// fast-check generators of RESP client traffic for the fuzz suite: commands from the proxy's command table with random arguments,
// client-written traffic, then mutated. It must never generate a command that legitimately changes other clients' data or blocks
// (FLUSHALL, blocking pops, ...): the suite's canary would then report a false failure.

import fc from 'fast-check'
import { ALL_COMMANDS, F_BLOCKING } from '../../src/commands/index.ts'
import type { CommandSpec } from '../../src/commands/index.ts'
import { RespReplyReader } from '../helpers/resp-reply-reader.ts'
import type { AnswerCounter, FuzzInput } from './fuzz-kit.ts'
import { cutsArb, mutate, mutationArb, splitAt } from './fuzz-kit.ts'

/** Legitimately touches every client's keys or blocks by design. */
const LEFT_OUT = new Set(['flushall', 'flushdb', 'pfselftest', 'lolwut', 'function|restore', 'script|flush', 'function|flush', 'function|delete'])

export const FUZZ_SPECS: readonly CommandSpec[] = ALL_COMMANDS.filter((s) => (s.flags & F_BLOCKING) === 0 && !LEFT_OUT.has(s.name) && s.subcommands === undefined)

/** Fuzz keys all start with `fz`: the canary's keys (`canary:...`) are never named. */
const keyArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom('fz:a', 'fz:b', 'fz:{t}1', 'fz:{t}2', 'fz:list', 'fz:z').map((s) => Buffer.from(s)),
  fc.uint8Array({ minLength: 0, maxLength: 20 }).map((u) => Buffer.concat([Buffer.from('fz'), u])),
)

const WORDS = [
  '0', '1', '-1', '2', '10', '100', '1000', '-100', '0.5', 'inf', '-inf', '+inf', 'nan', 'NX', 'XX', 'GT', 'LT', 'EX', 'PX', 'EXAT', 'KEEPTTL', 'GET',
  'WITHSCORES', 'LIMIT', 'COUNT', 'MATCH', 'TYPE', 'string', '*', '$', '>', '-', '+', '0-0', '~', 'BY', 'STORE', 'ALPHA', 'ASC', 'DESC', 'BEFORE',
  'AFTER', 'LEFT', 'RIGHT', 'MAXLEN', 'MINID', 'STREAMS', 'BLOCK', 'NOACK', 'REV', 'BYSCORE', 'BYLEX', '[a', '(1', 'ON', 'OFF', 'YES', 'NO', 'BCAST',
  'PREFIX', 'RESP', '3', '2', 'AUTH', 'default', 'SETNAME', 'FIELDS', 'WITHVALUES', 'IDX', 'LEN', 'MINMATCHLEN', 'u8', 'i64', '#1', 'OVERFLOW', 'FAIL',
  'return 1', "return redis.call('get', KEYS[1])", '#!lua name=fz\nredis.register_function("f", function() return 1 end)', 'fz:a', 'fz:b', 'fz:{t}1',
]

const argArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WORDS).map((s) => Buffer.from(s)) },
  { weight: 3, arbitrary: fc.integer({ min: -1000, max: 100_000 }).map((n) => Buffer.from(String(n))) },
  { weight: 2, arbitrary: fc.string({ maxLength: 16 }).map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 32 }).map((u) => Buffer.from(u)) },
  { weight: 1, arbitrary: keyArb },
)

/** One command from the table: its name (and subcommand), then arity-fitting arguments, keys where its first key goes. */
export const commandArb: fc.Arbitrary<Buffer[]> = fc.constantFrom(...FUZZ_SPECS).chain((spec) => {
  const name = spec.name.split('|').map((w) => Buffer.from(w))
  const min = Math.abs(spec.arity)
  const argc = spec.arity > 0 ? fc.constant(spec.arity) : fc.integer({ min, max: min + 4 })
  return argc.chain((n) =>
    fc.tuple(keyArb, fc.array(argArb, { minLength: Math.max(0, n - name.length), maxLength: Math.max(0, n - name.length) })).map(([key, args]) => {
      if (args.length > 0 && spec.keys.kind !== 'none') args[0] = key
      return [...name, ...args]
    }),
  )
})

export function encode(args: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'))
  return Buffer.concat(parts)
}

/** Traffic as clients write it (ioredis' and redis-cli's pipelines, redis-benchmark's inline PING), to be mutated. */
const CAPTURED: readonly Buffer[] = [
  encode(['SET', 'fz:a', 'value-1'].map((s) => Buffer.from(s))),
  encode(['GET', 'fz:a'].map((s) => Buffer.from(s))),
  Buffer.concat([encode(['MULTI'].map((s) => Buffer.from(s))), encode(['INCR', 'fz:{t}1'].map((s) => Buffer.from(s))), encode(['EXEC'].map((s) => Buffer.from(s)))]),
  encode(['MSET', 'fz:{t}1', 'a', 'fz:{t}2', 'b'].map((s) => Buffer.from(s))),
  encode(['MGET', 'fz:a', 'fz:b', 'fz:{t}1'].map((s) => Buffer.from(s))),
  encode(['HELLO', '3'].map((s) => Buffer.from(s))),
  encode(['EVAL', 'return 1', '1', 'fz:a'].map((s) => Buffer.from(s))),
  encode(['ZADD', 'fz:z', '1', 'm1', '2', 'm2'].map((s) => Buffer.from(s))),
  encode(['XADD', 'fz:s', '*', 'f', 'v'].map((s) => Buffer.from(s))),
  Buffer.from('PING\r\n'),
  Buffer.from('SET fz:inline "a b"\r\nGET fz:inline\r\n'),
]

/** 1..4 whole commands in one pipeline: every one must be answered (or the connection closed). */
const validArb: fc.Arbitrary<FuzzInput> = fc.tuple(fc.array(commandArb, { minLength: 1, maxLength: 4 }), cutsArb).map(([cmds, cuts]) => ({
  what: `valid: ${cmds.map((c) => c[0]!.toString('latin1')).join(' ')}`,
  chunks: splitAt(Buffer.concat(cmds.map(encode)), cuts),
  complete: true,
  expect: cmds.length,
}))

/** Inline commands (no CR or LF or NUL inside): answered like multibulk ones. */
const inlineArb: fc.Arbitrary<FuzzInput> = fc
  .tuple(fc.constantFrom('PING', 'GET', 'SET', 'ECHO', 'EXISTS', 'DEL', 'INCR', 'nosuchcommand'), fc.array(fc.stringMatching(/^[a-zA-Z0-9:{}" ']{0,12}$/), { maxLength: 3 }), cutsArb)
  .map(([cmd, args, cuts]) => {
    const line = [cmd, ...args.map((a) => (a.length === 0 ? 'fz:e' : `fz${a}`))].join(' ')
    return { what: `inline: ${line}`, chunks: splitAt(Buffer.from(`${line}\r\n`), cuts), complete: true, expect: 1 }
  })

/** Protocol errors Redis answers at once with -ERR Protocol error and a close: the proxy must answer or close too. */
const protocolErrorArb: fc.Arbitrary<FuzzInput> = fc
  .tuple(
    fc.constantFrom(
      '*2\r\n*1\r\n$3\r\nGET\r\n$1\r\nx\r\n', // nested array
      '*1\r\n$-5\r\n', // negative bulk length
      '*1\r\n$abc\r\n',
      '*2\r\n:1\r\n$1\r\nx\r\n', // not a bulk
      '*1\r\n$3\r\nGETXX', // a bulk without its CRLF, then more
      '*x\r\n',
      '*1\r\n$2147483648\r\n', // bulk length past Redis' 512 MiB
      '*99999999999\r\n',
    ),
    cutsArb,
  )
  .map(([s, cuts]) => ({ what: `protocol error: ${JSON.stringify(s)}`, chunks: splitAt(Buffer.from(s, 'latin1'), cuts), complete: true, expect: 1 }))

/** Valid or captured traffic, mutated: anything may come back (valid replies only) or nothing, until the deadline. */
const mutatedArb: fc.Arbitrary<FuzzInput> = fc
  .tuple(fc.oneof(fc.array(commandArb, { minLength: 1, maxLength: 3 }).map((cmds) => Buffer.concat(cmds.map(encode))), fc.constantFrom(...CAPTURED)), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), cutsArb)
  .map(([bytes, muts, cuts]) => ({ what: `mutated: ${muts.map((m) => m.op).join(',')}`, chunks: splitAt(mutate(bytes, muts), cuts), complete: false, expect: 0 }))

/** Huge declared lengths with little data behind them (the proxy must not reserve what is announced). */
const hugeArb: fc.Arbitrary<FuzzInput> = fc
  .tuple(fc.constantFrom('*1048576\r\n', '*3\r\n$3\r\nSET\r\n$4\r\nfz:h\r\n$536870000\r\n', '*2\r\n$3\r\nGET\r\n$99999999\r\nabc', '*1000000\r\n$3\r\nDEL\r\n'), fc.uint8Array({ maxLength: 512 }), cutsArb)
  .map(([head, tail, cuts]) => ({ what: `huge: ${JSON.stringify(head)}`, chunks: splitAt(Buffer.concat([Buffer.from(head), tail]), cuts), complete: false, expect: 0 }))

export const respInputArb: fc.Arbitrary<FuzzInput> = fc.oneof(
  { weight: 4, arbitrary: validArb },
  { weight: 1, arbitrary: inlineArb },
  { weight: 1, arbitrary: protocolErrorArb },
  { weight: 4, arbitrary: mutatedArb },
  { weight: 1, arbitrary: hugeArb },
)

/** Counts whole RESP2/RESP3 replies; the test reader throws on anything that is not one. */
export function respCounter(): AnswerCounter {
  const reader = new RespReplyReader()
  return (chunk) => reader.push(chunk)
}
