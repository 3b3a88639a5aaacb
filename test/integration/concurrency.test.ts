// Many clients at once through dynoproxy (3 backends, 2 workers): no reply crosses clients, slow readers lose nothing,
// big multi-key merges stay whole. It must never use unbounded data: every volume here is fixed and small enough to share a machine.

import t from 'tap'
import { startProxiedRedis } from '../helpers/dynoproxy.ts'
import { RespConnection, encodeCommands } from '../helpers/resp-connection.ts'
import type { CommandArg } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'

const cluster = await startProxiedRedis(t, { backends: 3, workers: 2 })

t.test('50 clients pipelining at once: every reply belongs to its own client', async (t) => {
  const clients = 50
  const perClient = 200
  const results = await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const conn = await RespConnection.connect(cluster.port, { t })
      const cmds: CommandArg[][] = []
      for (let i = 0; i < perClient; i++) {
        const key = `cc:${c}:${i % 20}`
        cmds.push(i % 4 === 3 ? ['MGET', key, `cc:${c}:${(i + 7) % 20}`] : i % 2 === 0 ? ['SET', key, `${c}/${i}`] : ['GET', key])
      }
      const replies = await conn.pipeline(cmds, 30_000)
      // Replay the same sequence locally to know what each GET must see.
      const model = new Map<string, string>()
      const wrong: string[] = []
      cmds.forEach((cmd, i) => {
        const got = plain(replies[i]!)
        const [name, k1, k2] = cmd.map(String)
        if (name === 'SET') {
          model.set(k1!, String(cmd[2]))
          if (JSON.stringify(got) !== JSON.stringify({ ok: 'OK' })) wrong.push(`${i}: SET got ${JSON.stringify(got)}`)
        } else if (name === 'GET') {
          if (got !== (model.get(k1!) ?? null)) wrong.push(`${i}: GET ${k1} got ${JSON.stringify(got)}`)
        } else if (JSON.stringify(got) !== JSON.stringify([model.get(k1!) ?? null, model.get(k2!) ?? null])) {
          wrong.push(`${i}: MGET got ${JSON.stringify(got)}`)
        }
      })
      return wrong
    }),
  )
  t.same(results.flat(), [], `${clients} x ${perClient} replies all correct`)
})

t.test('a client that stops reading: nothing lost when it resumes', async (t) => {
  const value = Buffer.alloc(10 * 1024, 0x61)
  const setup = await RespConnection.connect(cluster.port, { t })
  await setup.pipeline(Array.from({ length: 10 }, (_, i) => ['SET', `slowread:${i}`, Buffer.concat([Buffer.from(`${i}:`), value])]))
  const conn = await RespConnection.connect(cluster.port, { t })
  conn.socket.pause()
  const n = 2000
  conn.write(encodeCommands(Array.from({ length: n }, (_, i) => ['GET', `slowread:${i % 10}`])))
  // Meanwhile other clients are still served promptly.
  const other = await RespConnection.connect(cluster.port, { t })
  t.equal(String(plain(await other.call(['GET', 'slowread:3'], 3000))).slice(0, 2), '3:', 'another client is served while one does not read')
  conn.socket.resume()
  const replies = await conn.read(n, 30_000)
  const bad = replies.findIndex((r, i) => !(r.kind === 'bulk' && r.value !== null && r.value.length === value.length + 2 && r.value.toString('latin1', 0, 2) === `${i % 10}:`))
  t.equal(bad, -1, `all ${n} replies (~20 MiB) arrive intact and in order`)
})

t.test('big merges: MGET of 60 keys x 200 KiB across backends; pipelined 256 KiB SETs', async (t) => {
  const conn = await RespConnection.connect(cluster.port, { t })
  const big = (i: number): Buffer => Buffer.alloc(200 * 1024, i & 0xff)
  const keys = Array.from({ length: 60 }, (_, i) => `bigm:${i}`)
  const sets = await conn.pipeline(keys.map((k, i) => ['SET', k, big(i)]), 30_000)
  t.ok(sets.every((r) => r.kind === 'simple'), '60 pipelined 200 KiB SETs')
  const order = [...keys].reverse().concat(['bigm:none'])
  const mget = await conn.call(['MGET', ...order], 30_000)
  t.equal(mget.kind, 'array')
  if (mget.kind === 'array' && mget.value !== null) {
    const ok = mget.value.every((r, j) => {
      if (j === 60) return r.kind === 'bulk' && r.value === null
      return r.kind === 'bulk' && r.value !== null && r.value.equals(big(59 - j))
    })
    t.ok(ok, '12 MiB MGET reply merged whole and in key order')
  }
  const quarter = Buffer.alloc(256 * 1024, 0x7a)
  const cmds: CommandArg[][] = []
  for (let i = 0; i < 64; i++) cmds.push(['SET', `q:${i}`, quarter], ['STRLEN', `q:${i}`])
  const replies = await conn.pipeline(cmds, 30_000)
  t.ok(replies.every((r, i) => (i % 2 === 0 ? r.kind === 'simple' : plain(r) === quarter.length)), '64 x (SET 256 KiB, STRLEN) pipelined')
  t.same(plain(await conn.call(['DEL', ...keys, ...Array.from({ length: 64 }, (_, i) => `q:${i}`)])), 124, 'all deleted')
})

t.test('connection churn: 300 short-lived connections, proxy stays healthy', async (t) => {
  for (let batch = 0; batch < 10; batch++) {
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const conn = await RespConnection.connect(cluster.port)
        try {
          const r = await conn.call(['SET', `churn:${batch}:${i}`, 'x'], 5000)
          if (r.kind !== 'simple') throw new Error(`SET failed: ${JSON.stringify(plain(r))}`)
        } finally {
          conn.destroy()
        }
      }),
    )
  }
  const conn = await RespConnection.connect(cluster.port, { t })
  t.same(plain(await conn.call(['EXISTS', 'churn:9:29', 'churn:0:0'])), 2, '300 connect/SET/close cycles done, proxy still answers')
})
