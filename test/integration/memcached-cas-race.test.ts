// cas races through dynoproxy: two clients read the same cas unique and both try to store; exactly one may win.
// It must never let both writes land: the loser must see EXISTS and the stored value must be the winner's.

import t from 'tap'
import { McConnection, storage } from '../helpers/memcached-connection.ts'
import { casOf } from '../helpers/memcached-differential.ts'
import { mcOwnersOf, startProxiedMemcached } from '../helpers/memcached.ts'

const cluster = await startProxiedMemcached(t, { backends: 3 })
const keys = Array.from({ length: 30 }, (_, i) => `race:${i}`)

t.test('classic cas: two clients, same cas unique, sent at once: one STORED, one EXISTS', async (t) => {
  const [a, b] = await Promise.all([McConnection.connect(cluster.port, { t }), McConnection.connect(cluster.port, { t })])
  a.write(Buffer.concat(keys.map((k) => storage('set', k, 'initial'))))
  await a.read(keys.length)
  const owners = await mcOwnersOf(cluster.backends, keys)
  t.equal(new Set(owners).size, 3, 'keys on all three backends')
  for (let round = 0; round < 3; round++) {
    a.write(keys.map((k) => `gets ${k}\r\n`).join(''))
    b.write(keys.map((k) => `gets ${k}\r\n`).join(''))
    const [ra, rb] = await Promise.all([a.read(keys.length), b.read(keys.length)])
    const casA = ra.map(casOf)
    t.same(rb.map(casOf), casA, `round ${round}: both clients read the same cas uniques`)
    // Both pipelines in flight at once; per key, one of the two cas requests reaches the backend first.
    a.write(Buffer.concat(keys.map((k, i) => storage('cas', k, `A${round}`, { cas: casA[i] }))))
    b.write(Buffer.concat(keys.map((k, i) => storage('cas', k, `B${round}`, { cas: casA[i] }))))
    const [wa, wb] = await Promise.all([a.read(keys.length), b.read(keys.length)])
    const winners = keys.map((_, i) => {
      const pair = [wa[i]!.head, wb[i]!.head].sort().join('+')
      return pair === 'EXISTS+STORED' ? (wa[i]!.head === 'STORED' ? `A${round}` : `B${round}`) : `bad: ${pair}`
    })
    t.same(winners.filter((w) => w.startsWith('bad')), [], `round ${round}: exactly one STORED and one EXISTS per key`)
    a.write(`get ${keys.join(' ')}\r\n`)
    const [values] = await a.read(1)
    const stored = [...values!.raw.toString('latin1').matchAll(/VALUE (\S+) 0 2\r\n(\S+)\r\n/g)].map((m) => m[2])
    t.same(stored, winners, `round ${round}: each key holds its winner's value`)
  }
})

t.test('meta cas: ms with C from mg c, two clients at once: one HD, one EX', async (t) => {
  const [a, b] = await Promise.all([McConnection.connect(cluster.port, { t }), McConnection.connect(cluster.port, { t })])
  a.write(keys.map((k) => `ms ${k} 1 q\r\nx\r\n`).join('') + 'mn\r\n')
  await a.readThroughMn()
  b.write(keys.map((k) => `mg ${k} c\r\n`).join(''))
  const cas = (await b.read(keys.length)).map(casOf)
  a.write(keys.map((k, i) => `ms ${k} 1 C${cas[i]}\r\na\r\n`).join(''))
  b.write(keys.map((k, i) => `ms ${k} 1 C${cas[i]}\r\nb\r\n`).join(''))
  const [wa, wb] = await Promise.all([a.read(keys.length), b.read(keys.length)])
  const pairs = keys.map((_, i) => [wa[i]!.head, wb[i]!.head].sort().join('+'))
  t.same(pairs.filter((p) => p !== 'EX+HD'), [], 'exactly one HD and one EX per key')
  a.write(keys.map((k) => `mg ${k} v\r\n`).join(''))
  const values = (await a.read(keys.length)).map((r) => r.raw.toString('latin1').split('\r\n')[1])
  t.same(values, keys.map((_, i) => (wa[i]!.head === 'HD' ? 'a' : 'b')), 'each key holds its winner\'s value')
})
