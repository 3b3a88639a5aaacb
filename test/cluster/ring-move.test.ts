// Token move on real processes (POST /ring/move): bad input changes nothing; node 1 of a rack of two moves its token under write and
// read load (leave, grace, join with the new token, cleanup), no acknowledged write is lost and no read of an existing key answers nil;
// afterwards every key sits on its owner under the new token map and each node cleaned up what it no longer owns; the new token
// survives a restart with the old config (persisted in hints_dir).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startCluster, type ClusterNode } from '../helpers/cluster.ts'
import { keyHash, ownerIndex, rackTokens } from '../helpers/cluster-ring.ts'
import { RespConnection } from '../helpers/resp-connection.ts'
import { plain } from '../helpers/resp-reply-reader.ts'
import { GiveUp, waitFor } from '../helpers/wait-for.ts'

const GRACE = 2000
const hintsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-ring-move-'))
t.teardown(() => fs.rmSync(hintsDir, { recursive: true, force: true }))
const cluster = await startCluster(t, {
  dcs: [{ name: 'dc1', racks: [{ name: 'rack1', nodes: 2 }] }],
  pool: { handoff_grace: GRACE },
  // Only node 1 can move: a moved token must survive a restart, so it is persisted in hints_dir.
  nodePool: ({ index }) => (index === 1 ? { hints_dir: hintsDir } : {}),
})
const [n0, n1] = cluster.nodes as [ClusterNode, ClusterNode]
const [T0, T1] = rackTokens(2) as [number, number]
// Node 1 owns (T0, T1] (half the ring); moved to the three-quarter point it owns (T0, NEW]: it gains (T1, NEW] from node 0.
const NEW = T0 + 3 * 2 ** 30
const OLD_MAP = [T0, T1]
const NEW_MAP = [T0, NEW]
const newOwner = (key: string): number => ownerIndex(NEW_MAP, keyHash(key))
const oldOwner = (key: string): number => ownerIndex(OLD_MAP, keyHash(key))

interface MoveInfo { phase: string; from: string; to: string; started_at: number; finished_at: number; last_error: string }
interface Cleanup { runs: number; running: string; keys_deleted: number; last_error: string }
interface Info { gossip?: { move?: MoveInfo; cleanup: Cleanup } }
async function info(n: ClusterNode): Promise<Info> {
  return (await (await fetch(`http://127.0.0.1:${n.statsPort}/info`)).json()) as Info
}
interface Server { name: string; token: number; tokens: string[]; node_state: string }
async function servers(n: ClusterNode): Promise<Record<string, Server>> {
  const d = (await (await fetch(`http://127.0.0.1:${n.statsPort}/cluster_describe`)).json()) as { dcs: { racks: { servers: Server[] }[] }[] }
  return Object.fromEntries(d.dcs.flatMap((x) => x.racks.flatMap((r) => r.servers.map((s) => [s.name, s]))))
}
/** Node 1 as `n` describes it: state and tokens. */
async function node1As(n: ClusterNode): Promise<string> {
  const s = (await servers(n))[n1.peerName]
  return s === undefined ? 'absent' : `${s.node_state} ${s.tokens.join(',')} (token ${s.token})`
}
const move = (n: ClusterNode, query: string, method = 'POST'): Promise<Response> =>
  fetch(`http://127.0.0.1:${n.statsPort}/ring/move${query}`, { method })

async function safe(p: Promise<Parameters<typeof plain>[0]>): Promise<unknown> {
  try {
    return plain(await p)
  } catch (err) {
    return { error: (err as Error).message }
  }
}

/** Every key of a redis-server (SCAN, bounded). */
async function scanKeys(port: number): Promise<string[]> {
  const c = await RespConnection.connect(port)
  try {
    const keys: string[] = []
    let cursor = '0'
    for (let i = 0; i < 10_000; i++) {
      const [next, batch] = plain(await c.call(['SCAN', cursor, 'COUNT', 1000])) as [string, string[]]
      keys.push(...batch)
      cursor = next
      if (cursor === '0') return keys
    }
    throw new Error(`SCAN of :${port} did not end`)
  } finally {
    c.destroy()
  }
}
/** Keys on node `i`'s redis that the new token map gives to the other node (the readiness probe's keys aside). */
async function strays(i: 0 | 1): Promise<string[]> {
  const n = i === 0 ? n0 : n1
  return (await scanKeys(n.redisPort)).filter((k) => !k.startsWith('__ready') && newOwner(k) !== i)
}

const FILLED = 2000
const VALUE = 'x'.repeat(32)
const filled = Array.from({ length: FILLED }, (_, i) => `pre:${i}`)
// The filled keys node 0 owned and node 1 owns after the move: they must reach node 1's redis.
const gained = filled.filter((k) => oldOwner(k) === 0 && newOwner(k) === 1)
let moved = false // the move test reached its end (the restart test needs the moved token)
const idle = (i: Info): boolean => (i.gossip?.move?.phase ?? 'absent') === 'idle'

t.test('bad input is refused and changes nothing', async (t) => {
  t.equal((await info(n1)).gossip?.move?.phase, 'idle', 'no move before any request')
  const before = [await servers(n0), await servers(n1)]
  const refused: [ClusterNode, string, number, string][] = [
    [n1, '', 400, 'no token'],
    [n1, '?token=', 400, 'an empty token'],
    [n1, '?token=abc', 400, 'a token that is not a decimal'],
    [n1, '?token=-1', 400, 'a negative token'],
    [n1, '?token=4294967296', 400, 'a token over 4294967295'],
    [n1, `?token=${NEW}&foo=1`, 400, 'an unknown parameter'],
    [n1, '?tokens=1,abc', 400, 'a token list with a bad entry'],
    [n1, `?token=${T1}`, 400, "node 1's own token"],
    [n1, `?tokens=${T1}`, 400, "node 1's own tokens as a list"],
    [n1, `?token=${T0}`, 409, "node 0's token"],
    [n1, `?tokens=${NEW},${T0}`, 409, "a list holding node 0's token"],
    [n0, `?token=${NEW}`, 400, 'a node without hints_dir'],
  ]
  for (const [n, query, status, what] of refused) {
    const res = await move(n, query)
    t.equal(res.status, status, `${what}: ${status} (${n === n0 ? 'node 0' : 'node 1'} /ring/move${query}: ${(await res.text()).trim()})`)
  }
  const get = await move(n1, `?token=${NEW}`, 'GET')
  t.equal(get.status, 405, `a GET does not start it (${(await get.text()).trim()})`)
  t.ok(idle(await info(n1)) && idle(await info(n0)), 'both nodes still idle')
  t.same([await servers(n0), await servers(n1)], before, 'both nodes describe the same ring as before')
  t.equal(await node1As(n0), `normal ${T1} (token ${T1})`, 'node 0 sees node 1 normal with its configured token')
})

t.test('node 1 moves its token under load: nothing lost, no nil read, every key on its new owner', async (t) => {
  t.ok(gained.length > FILLED / 8, `the move hands node 1 a real part of node 0's range (${gained.length} of the filled keys)`)
  const fill = await RespConnection.connect(n0.clientPort, { t })
  for (let i = 0; i < FILLED; i += 200) {
    const replies = await fill.pipeline(filled.slice(i, i + 200).map((k, j) => ['SET', k, `${VALUE}${i + j}`]))
    if (!replies.every((r) => JSON.stringify(plain(r)) === '{"ok":"OK"}')) t.fail(`fill ${i}..${i + 199}: ${JSON.stringify(replies.map(plain).find((r) => JSON.stringify(r) !== '{"ok":"OK"}'))}`)
  }
  const r0 = await RespConnection.connect(n0.redisPort, { t })
  const r1 = await RespConnection.connect(n1.redisPort, { t })
  const onRedis = async (r: RespConnection, keys: string[]): Promise<unknown[]> => {
    const out: unknown[] = []
    for (let i = 0; i < keys.length; i += 500) out.push(...(await r.pipeline(keys.slice(i, i + 500).map((k) => ['GET', k]))).map(plain))
    return out
  }
  const gainedOnN1Before = (await onRedis(r1, gained)).filter((v) => v !== null).length
  t.equal(gainedOnN1Before, 0, 'before the move, node 1 holds none of the keys it is to gain')
  const filledOnN1Before = (await onRedis(r1, filled)).filter((v) => v !== null).length

  // Load: 4 writers (new keys and overwrites of their own keys) and 2 readers of the filled keys, through both nodes, bounded in count and time.
  let stop = false
  const loadUntil = Date.now() + 120_000
  const running = (): boolean => !stop && Date.now() < loadUntil
  const acked = new Map<string, Set<string>>() // a key's acceptable values: the last acked one, plus any later write that failed (it may have landed)
  let writes = 0
  let writeErrors = 0
  let reads = 0
  let nils = 0
  let wrong = 0
  let readErrors = 0
  const errors: string[] = []
  const client = async (w: number): Promise<RespConnection> => RespConnection.connect((w % 2 === 0 ? n0 : n1).clientPort, { t })
  const writers = Array.from({ length: 4 }, async (_, w) => {
    let c = await client(w)
    for (let n = 0; running() && n < 50_000; n++) {
      const key = n % 3 === 0 ? `over:${w}:${n % 30}` : `new:${w}:${n}`
      const value = `${w}:${n}`
      writes++
      const r = await safe(c.call(['SET', key, value]))
      if (JSON.stringify(r) === '{"ok":"OK"}') acked.set(key, new Set([value]))
      else {
        writeErrors++
        acked.get(key)?.add(value)
        if (errors.length < 5) errors.push(`SET ${key} via node ${w % 2}: ${JSON.stringify(r)}`)
        // A timed-out call leaves its reply in flight: start over on a fresh connection.
        if (typeof r === 'object' && r !== null && 'error' in r) {
          c.destroy()
          c = await client(w)
        }
      }
    }
  })
  const readers = Array.from({ length: 2 }, async (_, k) => {
    let c = await client(k)
    for (let n = k; running() && n < 500_000; n += 2) {
      const i = (n * 7919) % FILLED
      reads++
      const r = await safe(c.call(['GET', `pre:${i}`]))
      if (r === null) nils++
      else if (typeof r === 'object') {
        readErrors++
        if (errors.length < 5) errors.push(`GET pre:${i} via node ${k}: ${JSON.stringify(r)}`)
        if ('error' in r) {
          c.destroy()
          c = await client(k)
        }
      } else if (r !== `${VALUE}${i}`) {
        wrong++
        if (errors.length < 5) errors.push(`GET pre:${i} via node ${k}: ${JSON.stringify(r)}`)
      }
    }
  })
  const stopLoad = async (): Promise<void> => {
    stop = true
    await Promise.all([...writers, ...readers])
  }
  await waitFor(() => writes > 1000, 30_000, 'the load to run')

  const n0Runs = (await info(n0)).gossip?.cleanup.runs ?? 0
  const started = Date.now()
  const res = await move(n1, `?token=${NEW}`)
  if (!t.equal(res.status, 200, `the move starts (${(await res.text()).trim()})`)) return stopLoad()
  const again = await move(n1, `?token=${NEW - 1000}`)
  t.equal(again.status, 409, `a second move is refused while the first runs (${(await again.text()).trim()})`)
  const phases: string[] = []
  let last: MoveInfo | undefined
  await waitFor(async () => {
    last = (await info(n1)).gossip?.move
    if (last !== undefined && phases.at(-1) !== last.phase) phases.push(last.phase)
    if (last?.phase === 'failed') throw new GiveUp(`the move failed: ${last.last_error}`)
    return last?.phase === 'done'
  }, 60_000, 'node 1 to finish its move', 100).catch(async (err: Error) => {
    await stopLoad()
    throw new Error(`${err.message}; phases ${phases.join(' > ')}; node 1 as node 0 sees it: ${await node1As(n0).catch(() => '?')}\n` +
      `--- node 1 ---\n${n1.output().slice(-4000)}\n--- node 0 ---\n${n0.output().slice(-3000)}`)
  })
  const done = Date.now()
  await waitFor(async () => (await node1As(n0)) === `normal ${NEW} (token ${NEW})` && (await node1As(n1)) === `normal ${NEW} (token ${NEW})`, 20_000,
    'both nodes to describe node 1 normal with its new token').catch(async (err: Error) => {
    await stopLoad()
    throw new Error(`${err.message}: node 0 says ${await node1As(n0)}, node 1 says ${await node1As(n1)}`)
  })
  await stopLoad()
  moved = true
  const m = last!
  t.comment(`move: ${(done - started) / 1000} s to done (phases seen ${phases.join(' > ')}; node's own ${(m.finished_at - m.started_at) / 1000} s)`)
  t.comment(`load: ${writes} writes (${writeErrors} errors, ${((100 * writeErrors) / writes).toFixed(3)}%), ${reads} reads (${nils} nil, ${wrong} wrong, ${readErrors} errors); ${acked.size} keys written`)
  t.equal(m.from, String(T1), 'gossip.move.from: the old token')
  t.equal(m.to, String(NEW), 'gossip.move.to: the new token')
  t.equal(m.last_error, '', 'no error')
  t.ok(m.finished_at >= m.started_at && m.started_at > 0, 'started_at / finished_at set')
  t.equal(nils, 0, 'no read of an existing key answered nil')
  t.equal(wrong, 0, `no read answered wrong ${errors.join(' ')}`)
  t.ok(writeErrors / writes < 0.001, `write error rate under 0.1% (${writeErrors} of ${writes}) ${errors.join(' ')}`)
  t.ok(readErrors / reads < 0.001, `read error rate under 0.1% (${readErrors} of ${reads}) ${errors.join(' ')}`)
  const tokensFile = path.join(hintsDir, 'dyn_o_mite.tokens.json')
  t.ok(fs.existsSync(tokensFile) && fs.readFileSync(tokensFile, 'utf8').includes(String(NEW)), `the new token is persisted in ${tokensFile}`)

  // Every acknowledged write and every filled key: through both nodes, and on its owner's redis under the new token map.
  const expected = new Map<string, Set<string>>([...acked, ...filled.map((k, i): [string, Set<string>] => [k, new Set([`${VALUE}${i}`])])])
  const keys = [...expected.keys()]
  const c0 = await RespConnection.connect(n0.clientPort, { t })
  const c1 = await RespConnection.connect(n1.clientPort, { t })
  const via = [await onRedis(c0, keys), await onRedis(c1, keys)]
  const stored = [await onRedis(r0, keys), await onRedis(r1, keys)]
  const bad: Record<string, number> = { 'via node 0': 0, 'via node 1': 0, 'on owner': 0 }
  const samples: string[] = []
  keys.forEach((k, i) => {
    const ok = expected.get(k)!
    const owner = newOwner(k)
    const misses = [['via node 0', via[0]![i]], ['via node 1', via[1]![i]], ['on owner', stored[owner]![i]]].filter(([, v]) => !ok.has(v as string))
    for (const [where] of misses) bad[where as string]!++
    if (misses.length > 0 && samples.length < 5) {
      samples.push(`${k}=${[...ok].join('|')} n0:${JSON.stringify(via[0]![i])} n1:${JSON.stringify(via[1]![i])} redis0:${JSON.stringify(stored[0]![i])} ` +
        `redis1:${JSON.stringify(stored[1]![i])} owner:${owner} old-owner:${oldOwner(k)}`)
    }
  })
  t.same(bad, { 'via node 0': 0, 'via node 1': 0, 'on owner': 0 }, `all ${acked.size} acked writes and ${FILLED} filled keys read back through both nodes and sit on their new owner ${samples.join(' ')}`)
  const gainedOnN1 = (await onRedis(r1, gained)).filter((v) => v !== null).length
  t.equal(gainedOnN1, gained.length, `node 1's redis now holds the ${gained.length} filled keys of its new range that were node 0's`)
  const filledOnN1 = (await onRedis(r1, filled)).filter((v) => v !== null).length
  t.comment(`node 1's redis: ${filledOnN1Before} -> ${filledOnN1} of the filled keys`)
  t.ok(filledOnN1 > filledOnN1Before, 'node 1 holds more of the filled keys than before')

  // Cleanup: each node deletes what the new map gives to the other; node 1 grew, so node 0 loses (T0, NEW], which it held in part
  // from the start and in part since node 1's leave.
  await waitFor(async () => {
    const c = (await info(n1)).gossip?.cleanup
    return c !== undefined && c.runs > 0 && c.running === 'false'
  }, 20_000, 'node 1 to run its cleanup')
  const s1 = await strays(1)
  t.same(s1.slice(0, 5), [], `node 1's redis holds no key outside its new range (${s1.length})`)
  let s0: string[] = []
  await waitFor(async () => {
    const c = (await info(n0)).gossip?.cleanup
    if (c === undefined || c.running !== 'false') return false
    s0 = await strays(0)
    return s0.length === 0
  }, 20_000, "node 0's cleanup to delete the keys node 1 owns now").catch(async (err: Error) => {
    throw new Error(`${err.message}: ${s0.length} left, e.g. ${s0.slice(0, 5).join(' ')}; node 0 cleanup ${JSON.stringify((await info(n0)).gossip?.cleanup)}`)
  })
  const c0Info = (await info(n0)).gossip?.cleanup
  t.ok((c0Info?.runs ?? 0) > n0Runs, `node 0 ran a cleanup since the move began (${JSON.stringify(c0Info)})`)
  const filledOnN0 = (await onRedis(r0, filled)).filter((v) => v !== null).length
  t.equal(filledOnN0, filled.filter((k) => newOwner(k) === 0).length, `node 0's redis holds exactly the filled keys it still owns (${filledOnN0})`)
  t.comment(`cleanup: node 1 ${JSON.stringify((await info(n1)).gossip?.cleanup)}, node 0 ${JSON.stringify(c0Info)}`)
})

t.test('restarted with its old config, node 1 keeps the persisted token', async (t) => {
  if (!moved) {
    t.comment('not run: the move did not finish')
    return
  }
  const from = Date.now()
  await n1.stop()
  await n1.start()
  await waitFor(() => n1.output().split('\n').some((l) => l.includes(`"level":40`) && /overrid/i.test(l) && l.includes(String(NEW)) && l.includes(String(T1))), 20_000,
    "node 1's log to warn that the persisted tokens override the config's").catch((err: Error) => {
    throw new Error(`${err.message}\n--- node 1 ---\n${n1.output().slice(-3000)}`)
  })
  await waitFor(async () => (await node1As(n0)) === `normal ${NEW} (token ${NEW})` && (await node1As(n1)) === `normal ${NEW} (token ${NEW})`, 20_000,
    'both nodes to describe node 1 with its new token after the restart').catch(async (err: Error) => {
    throw new Error(`${err.message}: node 0 says ${await node1As(n0)}, node 1 says ${await node1As(n1)}`)
  })
  t.pass("node 1's log warns that the persisted tokens override the config's; both nodes describe it with the new token")
  await cluster.waitReady()
  t.comment(`restart: ${(Date.now() - from) / 1000} s`)
  // A key of the range node 1 gained: under the config's token it would be node 0's.
  let key = ''
  for (let i = 0; key === '' && i < 10_000; i++) if (oldOwner(`after:${i}`) === 0 && newOwner(`after:${i}`) === 1) key = `after:${i}`
  t.same(plain(await n0.call('SET', key, 'v')), { ok: 'OK' }, `SET ${key} through node 0`)
  t.equal(plain(await n1.call('GET', key)), 'v', 'reads back through node 1')
  t.equal(plain(await n1.redis.call('GET', key)), 'v', "sits in node 1's redis")
  t.equal(plain(await n0.redis.call('GET', key)), null, "not in node 0's")
})

t.test('a node that left is put back at another token; killed while it joins, it joins again at start', async (t) => {
  if (!moved) {
    t.comment('not run: the move did not finish')
    return
  }
  const tokensFile = path.join(hintsDir, 'dyn_o_mite.tokens.json')
  t.equal((await fetch(`http://127.0.0.1:${n1.statsPort}/state/leaving`, { method: 'POST' })).status, 200, 'node 1 leaves')
  await waitFor(async () => (await node1As(n0)).startsWith('left'), 30_000, 'node 0 to see node 1 left')
  // Back at its configured token (T1), from LEFT: no second leave.
  const res = await move(n1, `?token=${T1}`)
  t.equal(res.status, 200, await res.text())
  let phase = ''
  await waitFor(async () => (phase = (await info(n1)).gossip?.move?.phase ?? '') === 'joining' || phase === 'cleanup' || phase === 'done' || phase === 'failed',
    30_000, 'node 1 to start joining at its old token')
  t.equal((await info(n1)).gossip?.move?.to, String(T1), 'the move names where it goes')
  await n1.kill()
  const joiningAtKill = (JSON.parse(fs.readFileSync(tokensFile, 'utf8')) as { joining: boolean }).joining
  t.comment(`killed in phase ${phase}; the file said joining: ${joiningAtKill}`)
  t.match(fs.readFileSync(tokensFile, 'utf8'), `"${T1}"`, 'the new token was kept before anyone heard of it')
  await n1.start()
  if (joiningAtKill) {
    await waitFor(() => /join: (done|this node is already a member)/.test(n1.output()), 30_000, 'node 1 to join again at start').catch((err: Error) => {
      throw new Error(`${err.message}\n--- node 1 ---\n${n1.output().slice(-3000)}`)
    })
  }
  await waitFor(async () => (await node1As(n0)) === `normal ${T1} (token ${T1})` && (await node1As(n1)) === `normal ${T1} (token ${T1})`, 30_000,
    'both nodes to describe node 1 back at its old token').catch(async (err: Error) => {
    throw new Error(`${err.message}: node 0 says ${await node1As(n0)}, node 1 says ${await node1As(n1)}\n--- node 1 ---\n${n1.output().slice(-3000)}`)
  })
  await waitFor(() => !(JSON.parse(fs.readFileSync(tokensFile, 'utf8')) as { joining: boolean }).joining, 10_000, 'the tokens file to say the join is done')
  await cluster.waitReady()
  // New keys sit on their owners under the configured map again and read back through node 1.
  const keys = Array.from({ length: 200 }, (_, i) => `back:${i}`)
  for (let i = 0; i < keys.length; i += 50) t.same(plain(await n0.call('MSET', ...keys.slice(i, i + 50).flatMap((k) => [k, `b${k}`]))), { ok: 'OK' })
  let wrong = 0
  for (const k of keys) {
    const owner = oldOwner(k) === 0 ? n0 : n1
    if (plain(await owner.redis.call('GET', k)) !== `b${k}`) wrong++
    if (plain(await n1.call('GET', k)) !== `b${k}`) wrong++
  }
  t.equal(wrong, 0, 'keys written after the move back sit on their owners under the configured map and read back through node 1')
})
