// fast-check generators of peer-port (dnode) traffic for the fuzz suite: frames with mutated header fields, bad lengths, RESP
// payloads from the command table, mutated streams; and the hand-written peer_secret handshake for fuzzing after it.
// It must never share code with the proxy's dnode framing or peer auth: frames and HMACs are built here from the wire format.

import type net from 'node:net'
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { RespReplyReader } from '../helpers/resp-reply-reader.ts'
import type { AnswerCounter, FuzzInput } from './fuzz-kit.ts'
import { ODD_NUMBERS, cutsArb, mutate, mutationArb, splitAt } from './fuzz-kit.ts'
import { commandArb, encode } from './resp-inputs.ts'

const REQ = 3
const REQ_FORWARD = 4
const PROOF = 201

type Header = { id: string; type: string; flags: string; version: string; sameDc: string; data: string; payloadLen: string | null }

/** A dnode frame from its header fields as text (so any of them can be odd); payloadLen null = the payload's true length. */
function frame(h: Header, payload: Buffer): Buffer {
  const len = h.payloadLen ?? String(payload.length)
  return Buffer.concat([Buffer.from(`   $2014$ ${h.id} ${h.type} ${h.flags} ${h.version} ${h.sameDc} *${h.data.length} ${h.data} *${len}\r\n`, 'latin1'), payload])
}

const oddArb = fc.constantFrom(...ODD_NUMBERS)
const field = (normal: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.oneof({ weight: 6, arbitrary: normal }, { weight: 1, arbitrary: oddArb })

const headerArb = (type: fc.Arbitrary<number>): fc.Arbitrary<Header> =>
  fc.record({
    id: field(fc.integer({ min: 1, max: 1_000_000 }).map(String)),
    type: field(type.map(String)),
    flags: field(fc.constantFrom('0', '0', '0', '1', '2', '255', '256')),
    version: field(fc.constantFrom('1', '1', '0', '2')),
    sameDc: field(fc.constantFrom('1', '1', '0', '2')),
    data: fc.constantFrom('d', 'd', 'a', '', 'dd', 'x'.repeat(300)),
    payloadLen: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: oddArb }),
  })

const NORMAL: Header = { id: '1', type: String(REQ), flags: '0', version: '1', sameDc: '1', data: 'd', payloadLen: null }

const payloadArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: commandArb.map(encode) },
  { weight: 1, arbitrary: fc.array(commandArb, { minLength: 2, maxLength: 3 }).map((cs) => Buffer.concat(cs.map(encode))) },
  { weight: 1, arbitrary: fc.constantFrom('PING\r\n', 'GET fz:a\r\n', '', '*0\r\n', '*1\r\n$-1\r\n', '*2\r\n*1\r\n$1\r\nx\r\n$1\r\ny\r\n').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)) },
)

/** Before the handshake: any whole frame (a request, a wrong proof, gossip) gets the refusal and a close; garbage a close. */
export const strangerInputArb: fc.Arbitrary<FuzzInput> = fc.oneof(
  fc.tuple(headerArb(fc.oneof(fc.constantFrom(REQ, REQ_FORWARD, PROOF, 5, 7, 200, 202, 203), fc.integer({ min: 0, max: 255 }))), payloadArb, cutsArb).map(([h, p, cuts]) => ({
    what: `stranger frame type ${h.type}`,
    chunks: splitAt(frame(h, p), cuts),
    complete: false,
    expect: 0,
  })),
  fc.tuple(fc.string({ maxLength: 64 }), fc.string({ maxLength: 64 }), cutsArb).map(([cnonce, proof, cuts]) => {
    const payload = Buffer.from(`${cnonce} ${proof}`)
    return { what: 'stranger wrong proof', chunks: splitAt(frame({ ...NORMAL, id: '0', type: String(PROOF) }, payload), cuts), complete: true, expect: Number.MAX_SAFE_INTEGER }
  }),
  fc.tuple(payloadArb, cutsArb).map(([p, cuts]) => ({ what: 'stranger request', chunks: splitAt(frame(NORMAL, p.subarray(0, 256)), cuts), complete: true, expect: Number.MAX_SAFE_INTEGER })),
  fc.tuple(payloadArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), cutsArb).map(([p, muts, cuts]) => ({
    what: `stranger mutated: ${muts.map((m) => m.op).join(',')}`,
    chunks: splitAt(mutate(frame(NORMAL, p), muts), cuts),
    complete: false,
    expect: 0,
  })),
)

/** After the handshake: whole REQ frames must each get their RES (or the link closes); odd headers and mutations anything. */
export const peerInputArb: fc.Arbitrary<FuzzInput> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.array(payloadArb, { minLength: 1, maxLength: 4 }), cutsArb).map(([ps, cuts]) => ({
    what: `peer requests: ${ps.map((p) => JSON.stringify(p.subarray(0, 24).toString('latin1'))).join(' ')}`,
    chunks: splitAt(Buffer.concat(ps.map((p, i) => frame({ ...NORMAL, id: String(i + 1) }, p))), cuts),
    complete: true,
    expect: ps.length,
  })) },
  { weight: 2, arbitrary: fc.tuple(headerArb(fc.oneof(fc.constantFrom(REQ, REQ_FORWARD, 5, 7, 8, 13, PROOF, 200), fc.integer({ min: 0, max: 255 }))), payloadArb, cutsArb).map(([h, p, cuts]) => ({
    what: `peer odd header ${JSON.stringify(h)}`,
    chunks: splitAt(frame(h, p), cuts),
    complete: false,
    expect: 0,
  })) },
  { weight: 2, arbitrary: fc.tuple(fc.array(payloadArb, { minLength: 1, maxLength: 3 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), cutsArb).map(([ps, muts, cuts]) => ({
    what: `peer mutated: ${muts.map((m) => m.op).join(',')}`,
    chunks: splitAt(mutate(Buffer.concat(ps.map((p, i) => frame({ ...NORMAL, id: String(i + 1) }, p))), muts), cuts),
    complete: false,
    expect: 0,
  })) },
)

const HEADER = /^ {3}\$2014\$ (\d+) (\d+) (\d+) (\d+) ([01]) \*(\d+) /

/** Counts RES frames (type 5); every frame must have a well-formed header, a RES a payload that is whole RESP replies. */
export function dnodeCounter(): AnswerCounter {
  let buf = Buffer.alloc(0)
  let res = 0
  return (chunk) => {
    buf = Buffer.concat([buf, chunk])
    for (;;) {
      const nl = buf.indexOf('\r\n')
      if (nl < 0) {
        if (buf.length > 512 || (buf.length >= 10 && !buf.subarray(0, 10).equals(Buffer.from('   $2014$ ')))) throw new Error(`not a dnode frame: ${JSON.stringify(buf.subarray(0, 80).toString('latin1'))}`)
        return res
      }
      const head = buf.subarray(0, nl).toString('latin1')
      const m = HEADER.exec(head)
      const p = m === null ? null : / \*(\d+)$/.exec(head)
      if (m === null || p === null) throw new Error(`not a dnode header: ${JSON.stringify(head.slice(0, 120))}`)
      const len = Number(p[1])
      if (buf.length < nl + 2 + len) return res
      const payload = buf.subarray(nl + 2, nl + 2 + len)
      if (m[2] === '5') {
        const reader = new RespReplyReader()
        if (reader.push(payload) !== 1 || reader.bufferedBytes !== 0) throw new Error(`a RES payload that is not one whole reply: ${JSON.stringify(payload.subarray(0, 200).toString('latin1'))}`)
        res++
      }
      buf = buf.subarray(nl + 2 + len)
    }
  }
}

/** The handshake as a legitimate peer does it, on a raw socket: answer the challenge, wait for the server's proof. */
export function handshake(secret: string): (s: net.Socket) => Promise<void> {
  return (socket) =>
    new Promise((resolve, reject) => {
      let text = ''
      let proved = false
      let serverProof = ''
      const timer = setTimeout(() => done(new Error('peer handshake timed out')), 8000)
      const done = (err?: Error): void => {
        clearTimeout(timer)
        socket.off('data', onData)
        socket.off('close', onClose)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onClose = (): void => done(new Error('closed during the handshake'))
      const onData = (d: Buffer): void => {
        text += d.toString('latin1')
        if (!proved) {
          const m = /dynoproxy-peer-auth 1 ([0-9a-f]{32})/.exec(text)
          if (m === null) return
          proved = true
          const cnonce = 'ef'.repeat(16)
          const proof = createHmac('sha256', secret).update(`dynoproxy-peer client ${m[1]} ${cnonce}`).digest('hex')
          serverProof = createHmac('sha256', secret).update(`dynoproxy-peer server ${m[1]} ${cnonce}`).digest('hex')
          socket.write(frame({ ...NORMAL, id: '0', type: String(PROOF) }, Buffer.from(`${cnonce} ${proof}`)))
        }
        if (text.includes(serverProof) && serverProof !== '') done()
      }
      socket.on('data', onData)
      socket.on('close', onClose)
    })
}
