// A scriptable stand-in for a Dynomite 2046b05 node's peer port: dnode frames in, the RESP payload served by a real redis-server, RES frames out.
// Like Dynomite, it closes the whole link on a request its parser would reject; its check is its own reading of the vectors' JSON, never src's.

import net from 'node:net'
import { readFileSync } from 'node:fs'
import type { Test } from 'tap'
import { DnodeParser, DnodeHeaderTemplate, DMSG_REQ, DMSG_REQ_FORWARD, DMSG_RES, DNODE_DATA_PLAIN, DNODE_VERSION } from '../../src/protocol/dnode/index.ts'
import { RespReplyScanner } from '../../src/protocol/resp/index.ts'

type JsonClass = { class: string; commands: string[] }
const CLASSES = (JSON.parse(readFileSync('/work/shared/vectors/dynomite-commands.json', 'utf8')) as { classes: JsonClass[] }).classes
const CLASS_OF = new Map<string, string>()
for (const c of CLASSES) for (const name of c.commands) CLASS_OF.set(name, c.class)

/** Dynomite's parser on one request (argv): null when it takes it, else why not. Empty keys are parse errors there too. */
export function dynomiteRejects(argv: Buffer[]): string | null {
  if (argv.length === 0) return 'no command'
  let name = argv[0]!.toString('latin1').toUpperCase()
  let words = 1
  if (name === 'SCRIPT' && argv.length > 1) {
    name = `SCRIPT ${argv[1]!.toString('latin1').toUpperCase()}`
    words = 2
  }
  const cls = CLASS_OF.get(name)
  if (cls === undefined) return `unsupported command ${name}`
  const after = argv.length - words
  const key = (i: number): boolean => argv[i] !== undefined && argv[i]!.length > 0
  const bad = (why: string): string => `${name} (${cls}): ${why}`
  switch (cls) {
    case 'redis_argz':
      return after === 0 ? null : bad('arguments after the name')
    case 'redis_arg0':
      return after === 1 && key(words) ? null : bad('not exactly one key')
    case 'redis_arg1':
      if (words === 2) return after === 1 ? null : bad('not exactly one argument')
      return after === 2 && key(words) ? null : bad('not a key and one argument')
    case 'redis_arg_upto1':
      return after <= 1 ? null : bad('more than one argument')
    case 'redis_arg2':
      return after === 3 && key(words) ? null : bad('not a key and two arguments')
    case 'redis_arg3':
      return after === 4 && key(words) ? null : bad('not a key and three arguments')
    case 'redis_argn':
      return after >= 1 && key(words) ? null : bad('no key')
    case 'redis_argx':
      return after >= 1 && argv.slice(words).every((a) => a.length > 0) ? null : bad('no key, or an empty one')
    case 'redis_argkvx':
      return after >= 2 && after % 2 === 0 && argv.slice(words).every((a, i) => i % 2 === 1 || a.length > 0) ? null : bad('not key value pairs')
    case 'redis_argeval': {
      const nk = after >= 3 && /^[0-9]+$/.test(argv[2]!.toString('latin1')) ? Number(argv[2]!.toString('latin1')) : 0
      return nk >= 1 && nk <= after - 2 && argv.slice(3, 3 + nk).every((a) => a.length > 0) ? null : bad('numkeys')
    }
    default:
      return bad('unknown class')
  }
}

/** One RESP request (an array of bulk strings) as argv, or null when it is not one. */
function parseRequest(p: Buffer): Buffer[] | null {
  const text = p.toString('latin1')
  const head = /^\*(\d+)\r\n/.exec(text)
  if (head === null) return null
  const argv: Buffer[] = []
  let pos = head[0].length
  for (let i = 0; i < Number(head[1]); i++) {
    const m = /^\$(\d+)\r\n/.exec(text.slice(pos, pos + 24))
    if (m === null) return null
    pos += m[0].length
    const n = Number(m[1])
    argv.push(p.subarray(pos, pos + n))
    pos += n + 2
  }
  return pos === p.length ? argv : null
}

const RES = new DnodeHeaderTemplate(DMSG_RES, 0, DNODE_VERSION, 1, DNODE_DATA_PLAIN)

function resFrame(msgId: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RES.length(msgId, payload.length) + payload.length)
  const off = RES.write(out, 0, msgId, payload.length)
  payload.copy(out, off)
  return out
}

export type MockDynomitePeer = {
  readonly port: number
  /** Every request it served (argv as latin1 strings), in arrival order. */
  readonly received: string[][]
  /** Links it closed because a request did not fit Dynomite's parser, with the reason. */
  readonly closes: string[]
  /** Peer links accepted, and how many of them have ended for any reason. */
  readonly accepted: () => number
  readonly ended: () => number
  /** Requests served whose name (lower-cased) is `name`. */
  served(name: string): string[][]
  stop(): Promise<void>
}

/** Starts the mock on a free loopback port; each link gets its own connection to redis at `redisPort`. Stopped in teardown. */
export async function startMockDynomitePeer(t: Test, redisPort: number): Promise<MockDynomitePeer> {
  const received: string[][] = []
  const closes: string[] = []
  const sockets = new Set<net.Socket>()
  let accepted = 0
  let ended = 0
  const server = net.createServer((sock) => {
    accepted++
    sockets.add(sock)
    const redis = net.connect({ port: redisPort, host: '127.0.0.1' })
    sockets.add(redis)
    const parser = new DnodeParser()
    const scanner = new RespReplyScanner()
    const waiting: number[] = []
    let inBuf = Buffer.alloc(0)
    let replyBuf = Buffer.alloc(0)
    let closed = false
    const close = (): void => {
      if (closed) return
      closed = true
      ended++
      sock.destroy()
      redis.destroy()
    }
    sock.on('close', close)
    sock.on('error', close)
    redis.on('error', close)
    redis.on('close', close)
    sock.on('data', (chunk: Buffer) => {
      inBuf = Buffer.concat([inBuf, chunk])
      let pos = 0
      while (!closed && pos < inBuf.length) {
        const end = parser.parse(inBuf, pos, inBuf.length)
        if (end === 0) break
        if (end < 0) {
          closes.push(`garbage: ${parser.errorMessage}`)
          return close()
        }
        const type = parser.type
        const payload = Buffer.from(inBuf.subarray(parser.payloadStart, parser.payloadStart + parser.payloadLen))
        const msgId = parser.msgId
        pos = end
        if (type !== DMSG_REQ && type !== DMSG_REQ_FORWARD) continue // gossip and the like: not requests
        const argv = parseRequest(payload)
        const why = argv === null ? 'not a RESP request' : dynomiteRejects(argv)
        if (why !== null) {
          // Dynomite: "conn err on dnode EVENT_READ: 22", and every request in flight on the link fails with it.
          closes.push(why)
          return close()
        }
        received.push(argv!.map((a) => a.toString('latin1')))
        waiting.push(msgId)
        redis.write(payload)
      }
      inBuf = inBuf.subarray(pos)
      if (pos > 0) parser.reset()
    })
    redis.on('data', (chunk: Buffer) => {
      replyBuf = Buffer.concat([replyBuf, chunk])
      let pos = 0
      while (pos < replyBuf.length) {
        const end = scanner.scan(replyBuf, pos, replyBuf.length)
        if (end === 0) break
        if (end < 0) return close()
        const msgId = waiting.shift()
        if (msgId !== undefined && !closed) sock.write(resFrame(msgId, Buffer.from(replyBuf.subarray(pos, end))))
        pos = end
      }
      replyBuf = replyBuf.subarray(pos)
      if (pos > 0) scanner.reset()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port: 0, host: '127.0.0.1' }, resolve)
  })
  const port = (server.address() as net.AddressInfo).port
  const stop = async (): Promise<void> => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(stop)
  return {
    port,
    received,
    closes,
    accepted: () => accepted,
    ended: () => ended,
    served: (name) => received.filter((argv) => argv[0]!.toLowerCase() === name),
    stop,
  }
}
