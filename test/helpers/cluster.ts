// A whole dynoproxy cluster on loopback for tests: datacenters > racks > nodes, each node a real CLI process beside its own redis-server
// (or memcached, with `datastore: 'memcached'`).
// It must never start a node any other way than a user would (YAML + CLI), nor leave a process running after the test.

import type { Test } from 'tap'
import { startDynoproxy } from './dynoproxy.ts'
import type { Dynoproxy } from './dynoproxy.ts'
import { freePort } from './free-port.ts'
import { startRedis } from './redis-server.ts'
import type { RedisServer } from './redis-server.ts'
import { RespConnection, callOnce } from './resp-connection.ts'
import type { CommandArg } from './resp-connection.ts'
import type { RespReply } from './resp-reply-reader.ts'
import { GiveUp, waitFor } from './wait-for.ts'
import { startMemcached } from './memcached.ts'
import type { MemcachedServer } from './memcached.ts'
import { McConnection, mcCallOnce } from './memcached-connection.ts'
import type { McReply } from './memcached-reply-reader.ts'
import { keyHash, keysOwnedBy, ownerIndex, rackTokens } from './cluster-ring.ts'

export type Consistency = 'DC_ONE' | 'DC_QUORUM' | 'DC_SAFE_QUORUM' | 'DC_EACH_SAFE_QUORUM'

export type ClusterLayout = { dcs: { name: string; racks: { name: string; nodes: number }[] }[] }

export type StartClusterOptions = ClusterLayout & {
  /** One level for reads and writes, or each; DC_ONE by default. */
  consistency?: Consistency | { read: Consistency; write: Consistency }
  workers?: number
  /** The pool's request timeout (ms); 2000 by default. */
  timeoutMs?: number
  /** More pool keys, overriding the helper's. */
  pool?: Record<string, unknown>
  /** Every node's redis-server requires this password (`requirepass` on the nodes is then the caller's). */
  redisPassword?: string
  /** Pool keys for one node, overriding everything else (e.g. a consistency level per node). */
  nodePool?: (node: { dc: string; rack: string; index: number }) => Record<string, unknown>
  /** Each node's datastore: redis-server (data_store 0, the default) or memcached (data_store 1). */
  datastore?: 'redis' | 'memcached'
  /** Which nodes (indices in layout order) a node lists in dyn_seeds; every other node by default. Gossip finds the rest. */
  seeds?: (node: { dc: string; rack: string; index: number }, i: number) => number[]
  /** Nodes (indices in layout order) left stopped: the caller starts them (a node joining a running cluster). */
  deferStart?: number[]
}

type Store = { kind: 'redis'; server: RedisServer } | { kind: 'memcached'; server: MemcachedServer }

type NodeSpot = { dc: string; rack: string; index: number; token: number; clientPort: number; peerPort: number; statsPort: number }

/** One node of the cluster: its dynoproxy process (null while stopped) and its own redis-server. */
export class ClusterNode {
  readonly dc: string
  readonly rack: string
  /** Place in its rack, which is also its token's rank. */
  readonly index: number
  readonly token: number
  readonly clientPort: number
  readonly peerPort: number
  readonly statsPort: number
  private store: Store
  proxy: Dynoproxy | null = null
  private readonly t: Test
  private readonly config: Record<string, unknown>
  private readonly workers: number

  constructor(t: Test, spot: NodeSpot, store: Store, config: Record<string, unknown>, workers: number) {
    this.t = t
    this.dc = spot.dc
    this.rack = spot.rack
    this.index = spot.index
    this.token = spot.token
    this.clientPort = spot.clientPort
    this.peerPort = spot.peerPort
    this.statsPort = spot.statsPort
    this.store = store
    this.config = config
    this.workers = workers
  }

  get name(): string {
    return `${this.dc}/${this.rack}/${this.index}`
  }

  /** How other nodes name this one in their logs (the seed's host:port). */
  get peerName(): string {
    return `127.0.0.1:${this.peerPort}`
  }

  /** The node's redis-server, for reading and writing it directly; replaced by restartRedis(). */
  get redis(): RedisServer {
    if (this.store.kind !== 'redis') throw new Error(`${this.name} runs memcached, not redis-server`)
    return this.store.server
  }

  /** The node's memcached (a cluster started with datastore: 'memcached'). */
  get memcached(): MemcachedServer {
    if (this.store.kind !== 'memcached') throw new Error(`${this.name} runs redis-server, not memcached`)
    return this.store.server
  }

  get redisPort(): number {
    return this.redis.port
  }

  /** One memcached request through this node on a fresh connection. */
  mc(request: Buffer | string, deadlineMs = 5000): Promise<McReply> {
    return mcCallOnce(this.clientPort, request, deadlineMs)
  }

  /** A memcached client connection to this node, closed in teardown. */
  mcConnect(): Promise<McConnection> {
    return McConnection.connect(this.clientPort, { t: this.t })
  }

  get running(): boolean {
    return this.proxy !== null
  }

  /** Starts the node's dynoproxy (again, on the same ports and config). */
  async start(): Promise<void> {
    if (this.proxy !== null) throw new Error(`${this.name} is already running`)
    this.proxy = await startDynoproxy(this.t, {
      config: { dyn_o_mite: this.config },
      port: [this.clientPort, this.peerPort],
      workers: this.workers,
      // Several nodes start at once on a shared 2-core machine: give each far more than it needs alone.
      startDeadlineMs: 45_000,
    })
  }

  /** Graceful stop (SIGTERM). */
  async stop(): Promise<void> {
    const proxy = this.proxy
    this.proxy = null
    await proxy?.stop()
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill(): Promise<void> {
    const proxy = this.proxy
    this.proxy = null
    if (proxy === null) return
    proxy.kill('SIGKILL')
    await proxy.exited
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  async stopRedis(): Promise<void> {
    await this.store.server.stop()
  }

  /** A fresh (empty) datastore on the same port. */
  async restartRedis(): Promise<void> {
    const store = this.store
    await store.server.stop()
    this.store =
      store.kind === 'redis'
        ? { kind: 'redis', server: await startRedis(this.t, { port: store.server.port }) }
        : { kind: 'memcached', server: await startMemcached(this.t, { port: store.server.port }) }
  }

  get memcachedFlavour(): boolean {
    return this.store.kind === 'memcached'
  }

  /** One command through this node on a fresh connection. */
  async call(...args: CommandArg[]): Promise<RespReply> {
    const pass = this.config['requirepass']
    if (typeof pass !== 'string') return callOnce(this.clientPort, args)
    const conn = await RespConnection.connect(this.clientPort, { deadlineMs: 5000 })
    try {
      await conn.call(['AUTH', pass], 5000)
      return await conn.call(args, 5000)
    } finally {
      conn.destroy()
    }
  }

  /** A client connection to this node, closed in teardown. */
  connect(): Promise<RespConnection> {
    return RespConnection.connect(this.clientPort, { t: this.t })
  }

  output(): string {
    return this.proxy?.output() ?? ''
  }
}

export type Cluster = {
  nodes: ClusterNode[]
  node(dc: string, rack: string, index: number): ClusterNode
  rackNodes(dc: string, rack: string): ClusterNode[]
  /** The node owning `key` in a rack, by the tests' own placement model. */
  ownerOf(key: string | Buffer, dc: string, rack: string): ClusterNode
  /** Keys `${prefix}:<i>` that `node` owns in its rack. */
  keysOwnedBy(node: ClusterNode, prefix: string, count?: number): string[]
  /** Waits until every running node has seen every other running node up (its log), and serves its rack's keys. */
  waitReady(deadlineMs?: number): Promise<void>
}

function consistencyOf(opts: StartClusterOptions): { read: Consistency; write: Consistency } {
  const c = opts.consistency ?? 'DC_ONE'
  return typeof c === 'string' ? { read: c, write: c } : c
}

/** n distinct free ports (freePort may hand the same one out twice once it is closed). */
async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < n) ports.add(await freePort())
  return [...ports]
}

/** The last "peer up"/"peer down" the node logged for each peer name. */
export function peerStatesSeen(output: string): Map<string, boolean> {
  const seen = new Map<string, boolean>()
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"peer ')) continue
    try {
      const entry = JSON.parse(line) as { peer?: unknown; up?: unknown }
      if (typeof entry.peer === 'string' && typeof entry.up === 'boolean') seen.set(entry.peer, entry.up)
    } catch {
      // a torn line at the start of the kept tail
    }
  }
  return seen
}

function isErrorReply(r: RespReply): boolean {
  return r.kind === 'error'
}

/**
 * Starts one redis-server and one dynoproxy per node of the layout, every node seeded with all the others,
 * and waits until the cluster is ready. Everything is stopped in `t`'s teardown.
 */
export async function startCluster(t: Test, opts: StartClusterOptions): Promise<Cluster> {
  const spots: NodeSpot[] = []
  for (const dc of opts.dcs) {
    for (const rack of dc.racks) {
      const tokens = rackTokens(rack.nodes)
      for (let i = 0; i < rack.nodes; i++) spots.push({ dc: dc.name, rack: rack.name, index: i, token: tokens[i]!, clientPort: 0, peerPort: 0, statsPort: 0 })
    }
  }
  const ports = await distinctPorts(spots.length * 3)
  spots.forEach((s, i) => {
    s.clientPort = ports[3 * i]!
    s.peerPort = ports[3 * i + 1]!
    s.statsPort = ports[3 * i + 2]!
  })
  const memcached = opts.datastore === 'memcached'
  const stores: Store[] = await Promise.all(
    spots.map(async (): Promise<Store> => {
      if (memcached) return { kind: 'memcached', server: await startMemcached(t) }
      const redis = await startRedis(t, opts.redisPassword === undefined ? {} : { password: opts.redisPassword, args: ['--requirepass', opts.redisPassword] })
      return { kind: 'redis', server: redis }
    }),
  )
  const level = consistencyOf(opts)
  const nodes = spots.map((s, i) => {
    const config: Record<string, unknown> = {
      datacenter: s.dc,
      rack: s.rack,
      listen: `127.0.0.1:${s.clientPort}`,
      dyn_listen: `127.0.0.1:${s.peerPort}`,
      dyn_seed_provider: 'simple_provider',
      dyn_seeds: (opts.seeds === undefined ? spots.filter((o) => o !== s) : opts.seeds(s, i).map((j) => spots[j]!))
        .map((o) => `127.0.0.1:${o.peerPort}:${o.rack}:${o.dc}:${o.token}`),
      tokens: String(s.token),
      data_store: memcached ? 1 : 0,
      hash: 'murmur',
      hash_tag: '{}',
      servers: [`127.0.0.1:${stores[i]!.server.port}:1`],
      read_consistency: level.read,
      write_consistency: level.write,
      timeout: opts.timeoutMs ?? 2000,
      preconnect: true,
      // Failure detection within a fraction of a second, so readiness and rejoin are quick to observe.
      gos_interval: 200,
      stats_listen: `127.0.0.1:${s.statsPort}`,
      ...opts.pool,
      ...opts.nodePool?.({ dc: s.dc, rack: s.rack, index: s.index }),
    }
    return new ClusterNode(t, s, stores[i]!, config, opts.workers ?? 1)
  })
  await Promise.all(nodes.filter((_, i) => opts.deferStart?.includes(i) !== true).map((n) => n.start()))
  // Registered after the processes' own teardowns, so it runs before them (tap runs teardowns last first): every node's dynoproxy,
  // then every datastore, stopped at once rather than one after another (each takes ~0.1 s); their own teardowns then find them gone.
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await Promise.all(nodes.map((n) => n.stopRedis()))
  })
  const cluster = clusterOf(nodes)
  await cluster.waitReady()
  return cluster
}

function clusterOf(nodes: ClusterNode[]): Cluster {
  const rackNodes = (dc: string, rack: string): ClusterNode[] => nodes.filter((n) => n.dc === dc && n.rack === rack)
  const ownerOf = (key: string | Buffer, dc: string, rack: string): ClusterNode => {
    const members = rackNodes(dc, rack)
    if (members.length === 0) throw new Error(`no rack ${dc}/${rack}`)
    return members[ownerIndex(members.map((m) => m.token), keyHash(key))]!
  }
  const keysOf = (node: ClusterNode, prefix: string, count = 1): string[] =>
    keysOwnedBy(rackNodes(node.dc, node.rack).map((m) => m.token), node.index, prefix, count)
  const waitReady = async (deadlineMs = 45_000): Promise<void> => {
    const running = nodes.filter((n) => n.running)
    await waitFor(
      () => {
        for (const n of running) {
          if (!n.running) throw new GiveUp(`${n.name} stopped while waiting for the cluster`)
          const seen = peerStatesSeen(n.output())
          for (const other of running) if (other !== n && seen.get(other.peerName) !== true) return false
        }
        return true
      },
      deadlineMs,
      'every node to see every other node up',
      50,
    ).catch((err: Error) => {
      const tails = running.map((n) => `--- ${n.name} ---\n${n.output().slice(-1500)}`).join('\n')
      throw new Error(`${err.message}\n${tails}`)
    })
    // Each node then serves a key of every node of its own rack (a request that crosses each in-rack link).
    await Promise.all(
      running.map((n) =>
        waitFor(
          async () => {
            for (const owner of rackNodes(n.dc, n.rack)) {
              if (!owner.running) continue
              const key = keysOf(owner, '__ready')[0]!
              if (n.memcachedFlavour) {
                const reply = await n.mc(`get ${key}\r\n`)
                if (reply.head !== 'END' && !reply.head.startsWith('VALUE ')) return false
                continue
              }
              const reply = await n.call('GET', key)
              if (isErrorReply(reply)) return false
            }
            return true
          },
          deadlineMs,
          `${n.name} to serve keys of its rack`,
          50,
        ),
      ),
    )
  }
  return {
    nodes,
    node(dc, rack, index) {
      const n = nodes.find((x) => x.dc === dc && x.rack === rack && x.index === index)
      if (n === undefined) throw new Error(`no node ${dc}/${rack}/${index}`)
      return n
    },
    rackNodes,
    ownerOf,
    keysOwnedBy: keysOf,
    waitReady,
  }
}

/** Polls a redis-server directly until `key` holds `value` (replication is asynchronous); resolves with whether it did. */
export async function waitForValue(redis: RedisServer, key: string, value: string, deadlineMs = 5000): Promise<boolean> {
  try {
    await waitFor(
      async () => {
        const r = await redis.call('GET', key)
        return r.kind === 'bulk' && r.value !== null && r.value.toString() === value
      },
      deadlineMs,
      `${key} = ${value} on redis :${redis.port}`,
      20,
    )
    return true
  } catch {
    return false
  }
}
