// fast-check generators of memcached client traffic (text and meta commands) for the fuzz suite, whole and mutated.
// It must never generate a command that legitimately changes other clients' data (flush_all, cache_memlimit, shutdown, ...).

import fc from 'fast-check'
import { McReplyReader } from '../helpers/memcached-reply-reader.ts'
import type { AnswerCounter, FuzzInput } from './fuzz-kit.ts'
import { ODD_NUMBERS, cutsArb, mutate, mutationArb, splitAt } from './fuzz-kit.ts'

/** Fuzz keys start with `fz`, never the canary's `canary:`; some are too long (> 250) or hold bytes memcached refuses. */
const keyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('fz:a', 'fz:b', 'fz:c', 'fz:n') },
  { weight: 2, arbitrary: fc.stringMatching(/^[!-~]{0,24}$/).map((s) => `fz${s}`) },
  { weight: 1, arbitrary: fc.constantFrom('fz' + 'k'.repeat(260), 'fz\u00e9', 'fz\u0001x') },
)
const numArb = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 1000 }).map(String) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_NUMBERS.filter((n) => !/\s/.test(n) && n !== '')) })
const dataArb = fc.oneof(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u).toString('latin1')))

type Cmd = { line: string; sentinelSafe: boolean }

/** One text-protocol command (with its data block when it has one). */
const textArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.tuple(fc.constantFrom('set', 'add', 'replace', 'append', 'prepend'), keyArb, numArb, numArb, dataArb, fc.boolean()).map(([v, k, f, e, d, nr]) => ({
    line: `${v} ${k} ${f} ${e} ${Buffer.byteLength(d, 'latin1')}${nr ? ' noreply' : ''}\r\n${d}\r\n`,
    sentinelSafe: true,
  })),
  fc.tuple(keyArb, numArb, dataArb, numArb).map(([k, f, d, cas]) => ({ line: `cas ${k} ${f} 0 ${Buffer.byteLength(d, 'latin1')} ${cas}\r\n${d}\r\n`, sentinelSafe: true })),
  fc.tuple(fc.constantFrom('get', 'gets'), fc.array(keyArb, { minLength: 1, maxLength: 12 })).map(([v, ks]) => ({ line: `${v} ${ks.join(' ')}\r\n`, sentinelSafe: true })),
  fc.tuple(fc.constantFrom('gat', 'gats'), numArb, fc.array(keyArb, { minLength: 1, maxLength: 4 })).map(([v, e, ks]) => ({ line: `${v} ${e} ${ks.join(' ')}\r\n`, sentinelSafe: true })),
  fc.tuple(fc.constantFrom('incr', 'decr'), keyArb, numArb).map(([v, k, n]) => ({ line: `${v} ${k} ${n}\r\n`, sentinelSafe: true })),
  fc.tuple(keyArb, fc.boolean()).map(([k, nr]) => ({ line: `delete ${k}${nr ? ' noreply' : ''}\r\n`, sentinelSafe: true })),
  fc.tuple(keyArb, numArb).map(([k, e]) => ({ line: `touch ${k} ${e}\r\n`, sentinelSafe: true })),
  fc.constantFrom('version\r\n', 'verbosity 1\r\n', 'stats\r\n', 'stats items\r\n', 'nosuchcommand\r\n', '\r\n', 'get\r\n', 'set fz:x 0 0\r\n').map((line) => ({ line, sentinelSafe: true })),
)

const metaFlagArb = fc.constantFrom('v', 'f', 't', 'c', 'k', 's', 'h', 'l', 'O123', 'T30', 'N30', 'R10', 'E99', 'q', 'b', 'I', 'MA', 'MP', 'ME', 'MS', 'D5', 'J3', 'N', 'Zx', 'F1')
/** Meta commands; `q` (quiet) and `b` (base64 key) are among the flags. */
const metaArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.tuple(fc.constantFrom('mg', 'md', 'ma'), keyArb, fc.array(metaFlagArb, { maxLength: 5 })).map(([v, k, fl]) => ({ line: `${v} ${k} ${fl.join(' ')}`.trimEnd() + '\r\n', sentinelSafe: true })),
  fc.tuple(keyArb, dataArb, fc.array(metaFlagArb, { maxLength: 4 })).map(([k, d, fl]) => ({ line: `ms ${k} ${Buffer.byteLength(d, 'latin1')} ${fl.join(' ')}`.trimEnd() + `\r\n${d}\r\n`, sentinelSafe: true })),
  fc.constantFrom('mn\r\n', 'me fz:a\r\n', 'mg\r\n', 'ms fz:a\r\n', 'ms fz:a -1\r\nx\r\n', 'ms fz:a S2\r\nab\r\n').map((line) => ({ line, sentinelSafe: true })),
)

const cmdArb = fc.oneof({ weight: 2, arbitrary: textArb }, { weight: 1, arbitrary: metaArb })

/** What the counter answers once the closing VERSION came. */
const VERSION_SEEN = 1_000_000

/** Whole commands, then `version`: its VERSION (or a close) must come back within the hang bound, whatever noreply/q hid. */
const validArb: fc.Arbitrary<FuzzInput> = fc.tuple(fc.array(cmdArb, { minLength: 1, maxLength: 4 }), cutsArb).map(([cmds, cuts]) => ({
  what: `mc valid: ${cmds.map((c) => c.line.split(' ')[0]!.trim()).join(' ')}`,
  chunks: splitAt(Buffer.from(cmds.map((c) => c.line).join('') + 'version\r\n', 'latin1'), cuts),
  complete: true,
  expect: VERSION_SEEN,
}))

const CAPTURED = [
  'set fz:a 0 0 5\r\nhello\r\nget fz:a\r\n',
  'gets fz:a fz:b fz:c\r\n',
  'mg fz:a v f t\r\nms fz:b 2 T60\r\nhi\r\nmn\r\n',
  'incr fz:n 1\r\ndelete fz:n noreply\r\n',
  'cas fz:a 0 0 1 12\r\nx\r\n',
]

const mutatedArb: fc.Arbitrary<FuzzInput> = fc
  .tuple(fc.oneof(fc.array(cmdArb, { minLength: 1, maxLength: 3 }).map((cs) => cs.map((c) => c.line).join('')), fc.constantFrom(...CAPTURED)), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), cutsArb)
  .map(([text, muts, cuts]) => ({ what: `mc mutated: ${muts.map((m) => m.op).join(',')}`, chunks: splitAt(mutate(Buffer.from(text, 'latin1'), muts), cuts), complete: false, expect: 0 }))

const hugeArb: fc.Arbitrary<FuzzInput> = fc
  .tuple(fc.constantFrom('set fz:h 0 0 1073741824\r\n', 'ms fz:h 999999999\r\n', 'set fz:h 0 0 4294967297\r\n', 'get ' + 'fz:k '.repeat(4000) + '\r\n', 'get ' + 'x'.repeat(100_000)), fc.uint8Array({ maxLength: 512 }), cutsArb)
  .map(([head, tail, cuts]) => ({ what: `mc huge: ${head.slice(0, 30)}`, chunks: splitAt(Buffer.concat([Buffer.from(head), tail]), cuts), complete: false, expect: 0 }))

export const memcacheInputArb: fc.Arbitrary<FuzzInput> = fc.oneof({ weight: 4, arbitrary: validArb }, { weight: 4, arbitrary: mutatedArb }, { weight: 1, arbitrary: hugeArb })

/**
 * Counts whole replies; for whole inputs the count jumps to VERSION_SEEN once the closing VERSION arrived. The test framer throws on
 * bytes that are no memcached reply.
 */
export function memcacheCounter(): AnswerCounter {
  const reader = new McReplyReader()
  let sawVersion = false
  let heldCr = false
  return (chunk) => {
    // memcached takes a lone CR as a key byte ("get k\r\r\n" asks for "k\r" and answers "VALUE k\r ..."); the test framer
    // refuses one, so it sees it as '?' (a CR at a piece's end waits for the next piece's first byte).
    const b = Buffer.concat(heldCr ? [Buffer.from('\r'), chunk] : [chunk])
    heldCr = b[b.length - 1] === 13
    const bytes = heldCr ? b.subarray(0, b.length - 1) : b
    for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 13 && bytes[i + 1] !== 10) bytes[i] = 0x3f
    const n = reader.push(bytes)
    if (!sawVersion) sawVersion = reader.peek().some((r) => r.head.startsWith('VERSION '))
    return sawVersion ? VERSION_SEEN : n
  }
}
