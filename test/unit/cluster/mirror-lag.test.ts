// The mirror's flip lag (mirror.ts setLag): once the receiver serves the range, a key heard in the source's feed is read again only
// after it was quiet for the lag (a write a turned peer sent to both sides lands at the receiver before the read-back that holds it),
// yet no later than 4 x the lag after it was first heard (a key written without pause is not starved), and at once without a lag.
import t from 'tap'
import { Mirror } from '../../../src/cluster/mirror.ts'
import { F_NONE } from '../../../src/protocol/failure/index.ts'
import type { BackendServer, Request } from '../../../src/io/index.ts'
import type { FetchEntry } from '../../../src/protocol/resp/index.ts'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
// The mirror's own timers do not hold a process open (a real node has its sockets for that): this one does, for the test.
const keepAlive = setInterval(() => {}, 1000)
t.teardown(() => clearInterval(keepAlive))

/** A feed link: each poll waits until the test publishes keys (answered `*N :seq $key...`). */
function feed(): { link: BackendServer; publish(keys: string[]): void } {
  let parked: Request | null = null
  let seq = 0
  const queued: string[][] = []
  const answer = (req: Request, keys: string[]): void => {
    seq++
    const body = Buffer.from(`*${keys.length + 1}\r\n:${seq}\r\n${keys.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`, 'latin1')
    req.failure = F_NONE
    setImmediate(() => req.client?.replyArrived(req, body, 0, body.length))
  }
  const link = {
    send(req: Request) {
      // The first poll (position -1) asks where the feed is: answered at once.
      if (seq === 0) return answer(req, [])
      const q = queued.shift()
      if (q !== undefined) answer(req, q)
      else parked = req
    },
    close() {},
  } as unknown as BackendServer
  return {
    link,
    publish(keys) {
      const p = parked
      parked = null
      if (p !== null) answer(p, keys)
      else queued.push(keys)
    },
  }
}

function mirror(link: BackendServer): { m: Mirror; fetched: { key: string; at: number }[] } {
  const fetched: { key: string; at: number }[] = []
  const m = new Mirror(
    {
      pollLink: link,
      fetch: async (keys): Promise<FetchEntry[]> => {
        const at = Date.now()
        for (const k of keys) fetched.push({ key: k.toString('latin1'), at })
        return keys.map(() => ({ pttl: -1, payload: Buffer.from('x') }))
      },
    },
    { apply: async () => {} },
    () => true,
    1 << 20,
  )
  return { m, fetched }
}

t.test('without a lag a key heard is read again at once', async (t) => {
  const f = feed()
  const { m, fetched } = mirror(f.link)
  t.ok(await m.start())
  const t0 = Date.now()
  f.publish(['a'])
  await sleep(60)
  t.equal(fetched.length, 1)
  t.ok(fetched[0]!.at - t0 < 50, `read ${fetched[0]!.at - t0} ms after it was heard`)
  await m.stop()
})

t.test('with a lag: read once quiet for it, and at most 4 x the lag after it was first heard', async (t) => {
  const f = feed()
  const { m, fetched } = mirror(f.link)
  t.ok(await m.start())
  m.setLag(150)
  const t0 = Date.now()
  f.publish(['quiet'])
  // 'hot' is written every 40 ms for 900 ms: never quiet for 150 ms.
  for (let i = 0; i < 22; i++) {
    f.publish(['hot'])
    await sleep(40)
  }
  const quiet = fetched.filter((x) => x.key === 'quiet')
  const hot = fetched.filter((x) => x.key === 'hot')
  t.equal(quiet.length, 1, 'the quiet key read once')
  t.ok(quiet[0]!.at - t0 >= 145, `not before the lag (${quiet[0]!.at - t0} ms)`)
  t.ok(quiet[0]!.at - t0 < 400, `soon after it (${quiet[0]!.at - t0} ms)`)
  t.ok(hot.length >= 1, `the hot key read anyway (${hot.length} times)`)
  t.ok(hot[0]!.at - t0 >= 590 && hot[0]!.at - t0 < 900, `first at 4 x the lag after it was first heard (${hot[0]!.at - t0} ms)`)
  await m.stop()
  t.ok(fetched.filter((x) => x.key === 'hot').at(-1)!.at >= fetched.filter((x) => x.key === 'hot')[0]!.at, 'and again by the stop')
})
