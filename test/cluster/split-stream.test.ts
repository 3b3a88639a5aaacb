// A cluster node's split MGET streamed in key order (issue 13 part 5): its own datastore's piece streams unit by unit, the peers' pieces
// come whole over dnode links; values must come back correct and in the client's order, and a pipelined GET after the whole MGET.
// It must never infer placement from the reply: values are planted in each owner's redis-server directly.

import t from 'tap'
import { startCluster } from '../helpers/cluster.ts'
import { encodeCommand } from '../helpers/resp-connection.ts'
import { RespStreamReader, bigValue, streamRequest } from '../helpers/stream-reply-reader.ts'

const cluster = await startCluster(t, { dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 3 }] }], timeoutMs: 5000 })
const rack = cluster.rackNodes('dc1', 'rack1')
const SIZE = 256 * 1024
const per = rack.map((owner) => cluster.keysOwnedBy(owner, `ss:${owner.index}`, 20))
// Interleaved owners, so every piece has keys before and after every other's; one key nobody holds.
const keys: string[] = []
for (let i = 0; i < 20; i++) for (const list of per) keys.push(list[i]!)
keys.splice(17, 0, 'ss:missing')
for (const [o, list] of per.entries()) for (const k of list) await rack[o]!.redis.call('SET', k, bigValue(k, SIZE))

for (const via of rack) {
  t.test(`MGET of ${keys.length} keys over 3 owners through ${via.name}: every value in order, a pipelined GET after it`, async (t) => {
    const reader = new RespStreamReader()
    const single = per[(via.index + 1) % 3]![0]!
    const { after } = await streamRequest(via.clientPort, encodeCommand(['MGET', ...keys]), reader, {
      deadlineMs: 30_000,
      then: encodeCommand(['GET', single]),
      thenBytes: `$${SIZE}\r\n`.length + SIZE + 2,
    })
    t.equal(reader.error, null)
    t.equal(reader.count, keys.length)
    t.same(
      reader.items.map((it) => (it === null ? null : it.len === SIZE ? it.head.slice(1, it.head.indexOf('>')) : `bad length ${it.len}`)),
      keys.map((k) => (k === 'ss:missing' ? null : k)),
      'each value its own key\'s, in the client\'s order, nil for the missing one',
    )
    t.ok(after.toString('latin1', 0, 40).startsWith(`$${SIZE}\r\n<${single}>`), 'the pipelined GET answered after the whole MGET')
  })
}
