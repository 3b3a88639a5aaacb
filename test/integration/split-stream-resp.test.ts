// Split MGETs streamed to the client (issue 13 part 5) over 2 real redis-servers: `*N` then each value as soon as every earlier one is
// known, the proxy bounded while 300 MiB pass, a stopped server holds back only what follows its first key, a pipelined GET waits for
// the whole MGET, and a server failing after the reply started leaves nils (before it started: the error, as before). No speed asserted.

import t from 'tap'
import net from 'node:net'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { ownersOf } from '../helpers/backend-probe.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { RespStreamReader, bigValue, streamRequest } from '../helpers/stream-reply-reader.ts'
import { encodeCommand } from '../helpers/resp-connection.ts'

const MiB = 1024 * 1024
const node = await startProxiedRedis(t, { backends: 2, workers: 1, pool: { timeout: 5000, max_request_bytes: 4 * MiB } })
const [r0, r1] = node.backends

/** SETs each key to bigValue(key, bytes) through the proxy, at most 8 in flight. */
async function load(keys: readonly string[], bytes: number): Promise<void> {
  const sock = net.connect(node.port, '127.0.0.1')
  await new Promise((r) => sock.once('connect', r))
  let ok = 0
  let text = ''
  sock.on('data', (d) => {
    text += d.toString('latin1')
    const lines = text.split('\r\n')
    text = lines.pop()!
    for (const l of lines) if (l === '+OK') ok++
  })
  for (let i = 0; i < keys.length; i++) {
    sock.write(encodeCommand(['SET', keys[i]!, bigValue(keys[i]!, bytes)]))
    await waitFor(async () => i + 1 - ok <= 8, 20_000, 'SETs answered', 1)
  }
  await waitFor(async () => ok === keys.length, 20_000, 'all set', 5)
  sock.destroy()
}

const mget = (keys: readonly string[]): Buffer => encodeCommand(['MGET', ...keys])

const big = Array.from({ length: 300 }, (_, i) => `rbig:${i}`)
await load(big, MiB)
const bigOwner = await ownersOf(node.backends, big)
const mid = Array.from({ length: 120 }, (_, i) => `rmid:${i}`)
await load(mid, 512 * 1024)
const midOwner = await ownersOf(node.backends, mid)
const on0 = mid.filter((_, i) => midOwner[i] === 0)
const on1 = mid.filter((_, i) => midOwner[i] === 1)
// Server 1's keys first, then one of server 0, then 20 MiB more of server 1 (they run ahead while server 0 is stopped), a missing key.
const ordered = [...on1.slice(0, 5), on0[0]!, ...on1.slice(5, 45), 'rmid:none', ...on0.slice(1, 5)]

t.test('MGET of 300 x 1 MiB over 2 servers: every value in key order, the proxy under 400 MB', async (t) => {
  t.ok(bigOwner.includes(0) && bigOwner.includes(1), 'the keys span both servers (the MGET is split)')
  const reader = new RespStreamReader()
  const { peakRssMiB } = await streamRequest(node.port, mget(big), reader, { pid: node.proxy.pid, deadlineMs: 60_000 })
  t.equal(reader.error, null)
  t.equal(reader.count, 300)
  t.ok(reader.items.every((it, i) => it !== null && it.len === MiB && it.head.startsWith(`<rbig:${i}>`)), 'each value its own key\'s, in order')
  t.ok(peakRssMiB < 400, `proxy RSS peaked at ${peakRssMiB.toFixed(0)} MiB while 300 MiB went through`)
})

t.test('a client reading slowly (pausing every few MiB) gets the whole MGET: the paused connections resume as it reads', async (t) => {
  const reader = new RespStreamReader()
  const sock = net.connect(node.port, '127.0.0.1')
  await new Promise((r) => sock.once('connect', r))
  let sinceNap = 0
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not complete in 60 s')), 60_000)
    sock.on('data', (d: Buffer) => {
      reader.feed(d)
      sinceNap += d.length
      if (reader.ended) {
        clearTimeout(timer)
        resolve()
      } else if (sinceNap > 12 * MiB) {
        sinceNap = 0
        sock.pause()
        setTimeout(() => sock.resume(), 150)
      }
    })
    sock.on('close', () => reject(new Error('closed before the reply ended')))
    sock.write(mget(big.slice(0, 120)))
  })
  sock.destroy()
  t.equal(reader.items.length, 120)
  t.ok(reader.items.every((it, i) => it !== null && it.head.startsWith(`<rbig:${i}>`)), 'each value its own key\'s, in order')
})

t.test('a stopped server: `*N` and the values before its first key arrive at once; a pipelined GET comes after the whole MGET', async (t) => {
  t.ok(on0.length >= 5 && on1.length >= 45, 'enough keys on each server')
  const reader = new RespStreamReader()
  r0!.kill('SIGSTOP')
  let prefixSeen = false
  let resumed = false
  const resume = (): void => {
    if (resumed) return
    resumed = true
    r0!.kill('SIGCONT')
  }
  const safety = setTimeout(resume, 4000)
  try {
    const single = on1[50]!
    const { after } = await streamRequest(node.port, mget(ordered), reader, {
      deadlineMs: 30_000,
      then: encodeCommand(['GET', single]),
      thenBytes: `$${512 * 1024}\r\n`.length + 512 * 1024 + 2,
      onChunk: () => {
        if (!resumed && !prefixSeen && reader.items.length >= 5) {
          prefixSeen = true
          setTimeout(() => {
            if (resumed) return
            t.equal(reader.count, ordered.length, 'the header came first')
            t.equal(reader.items.length, 5, 'exactly the prefix arrived while server 0 is stopped')
            resume()
          }, 400)
        }
      },
    })
    t.ok(prefixSeen, 'the prefix was streamed before server 0 answered')
    t.same(reader.items.map((it) => (it === null ? null : it.head.slice(1, it.head.indexOf('>')))), ordered.map((k) => (k === 'rmid:none' ? null : k)), 'every value in key order, nil for the missing key')
    t.ok(after.subarray(0, 20).toString('latin1').startsWith(`$${512 * 1024}\r\n<${single}>`), 'the pipelined GET is answered after the MGET')
  } finally {
    clearTimeout(safety)
    resume()
  }
})

t.test('a server failing after the reply started: its keys are nil and the array stays whole; before the start: the error', async (t) => {
  const reader = new RespStreamReader()
  r0!.kill('SIGSTOP')
  let killed = false
  await streamRequest(node.port, mget(ordered), reader, {
    deadlineMs: 30_000,
    onChunk: () => {
      if (!killed && reader.items.length >= 5) {
        killed = true
        r0!.kill('SIGKILL')
      }
    },
  })
  t.ok(killed)
  t.equal(reader.error, null, 'no error inside a started array')
  t.equal(reader.items.length, ordered.length, 'every element')
  t.same(reader.items.map((it) => (it === null ? null : it.head.slice(1, it.head.indexOf('>')))), ordered.map((k) => (on1.includes(k) ? k : null)), 'server 0\'s keys nil')
  const whole = new RespStreamReader()
  await streamRequest(node.port, mget([on0[0]!, on1[0]!]), whole, { deadlineMs: 10_000 })
  t.match(whole.error, /^-ERR/, 'a failure before any byte went out is the whole reply, as without streaming')
  void r1
})
