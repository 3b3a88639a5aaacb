// Issue 11's availability scenario on a loopback cluster: 8 writers at DC_ONE, one node killed -9 then restarted, the remote DC
// frozen (SIGSTOP) then resumed, readers throughout; then every acknowledged write checked on every replica's datastore directly.
// Never leaves a process stopped or frozen (SIGCONT in finally; the cluster helper stops everything in teardown); every loop is bounded.

import type { Test } from 'tap'
import { startCluster } from './cluster.ts'
import type { Cluster, ClusterLayout, ClusterNode } from './cluster.ts'
import { RespConnection } from './resp-connection.ts'

export type ScenarioOptions = {
  layout: ClusterLayout
  /** The node killed -9 (dc, rack, index) and for how long (ms). */
  kill: { dc: string; rack: string; index: number; forMs: number; atMs: number }
  /** The datacenter whose dynoproxy processes are frozen (SIGSTOP), when and for how long (ms). */
  freeze: { dc: string; forMs: number; atMs: number }
  writers: number
  /** Each writer stops after this many writes or when the timeline ends (whichever first). */
  maxWritesPerWriter: number
  /** Writers go on this long after the last fault ended (ms). */
  tailMs: number
  /** How long after everything is back the replicas are checked (ms); then missing is polled down to 0 within `convergeMs`. */
  settleMs: number
  convergeMs: number
  pool?: Record<string, unknown>
  log?: (line: string) => void
}

export type ScenarioFigures = {
  acked: number
  /** Writes answered with an error while at least one replica of their key was up (at DC_ONE: always, in this scenario). */
  refused: number
  refusedSamples: string[]
  /** Writes whose answer did not arrive within the client's deadline (unknown outcome; not counted as acknowledged). */
  clientTimeouts: number
  /** Acknowledged writes missing on some replica `settleMs` after everything was back (replica copies, and distinct writes). */
  missingCopies: number
  missingWrites: number
  missingByNode: Record<string, number>
  /** Polled from when everything was back: how long the replicas took to hold every write (ms; -1: not within settleMs + convergeMs). */
  convergedAfterMs: number
  /** Still missing convergeMs after the check at settleMs. */
  missingAtDeadline: number
  reads: number
  readErrors: number
  readNils: number
  readErrorSamples: string[]
  /** Per entry node: when (ms from the start) its reads answered nil (the last 20), and the timeline's marks (ms from the start). */
  readNilsAt: Record<string, number[]>
  readNilSamples: string[]
  marks: Record<string, number>
  /** Per other node: ms from kill -9 to that node reporting the killed node down (-1: not seen within 10 s). */
  detectionMs: Record<string, number>
  detectionMaxMs: number
  hintsReplayed: number
  hintsDropped: number
  durationMs: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

async function metricsOf(node: ClusterNode): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${node.statsPort}/metrics`, { signal: AbortSignal.timeout(2000) })
  return await res.text()
}

function peerFigure(text: string, peer: ClusterNode, name: string): number {
  const m = new RegExp(`^dynoproxy_${name}\\{pool="dyn_o_mite",peer="${peer.peerName.replace(/\./g, '\\.')}"\\} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

function sumFigure(text: string, name: string): number {
  let n = 0
  for (const m of text.matchAll(new RegExp(`^dynoproxy_${name}\\{[^}]*\\} (\\S+)$`, 'gm'))) n += Number(m[1])
  return n
}

/** Polls every other running node until each reports `dead` down; ms after `t0` per node. */
async function watchDetection(nodes: ClusterNode[], dead: ClusterNode, t0: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  const left = new Set(nodes.filter((n) => n !== dead))
  const deadline = t0 + 10_000
  while (left.size > 0 && Date.now() < deadline) {
    await Promise.all(
      [...left].map(async (n) => {
        try {
          if (peerFigure(await metricsOf(n), dead, 'peer_up') === 0) {
            out[n.name] = Date.now() - t0
            left.delete(n)
          }
        } catch {
          // a frozen or busy node: try again
        }
      }),
    )
    await sleep(50)
  }
  for (const n of left) out[n.name] = -1
  return out
}

/** Missing acknowledged writes on each replica, read with MGET straight from each node's redis. */
async function missingOn(cluster: Cluster, acked: Map<string, string>): Promise<{ copies: number; writes: number; byNode: Record<string, number> }> {
  const byReplica = new Map<ClusterNode, string[]>()
  const racks = [...new Set(cluster.nodes.map((n) => `${n.dc}\u0000${n.rack}`))].map((s) => s.split('\u0000') as [string, string])
  for (const key of acked.keys()) {
    for (const [dc, rack] of racks) {
      const owner = cluster.ownerOf(key, dc, rack)
      let list = byReplica.get(owner)
      if (list === undefined) byReplica.set(owner, (list = []))
      list.push(key)
    }
  }
  const missingKeys = new Set<string>()
  const byNode: Record<string, number> = {}
  let copies = 0
  for (const [node, keys] of byReplica) {
    const conn = await RespConnection.connect(node.redisPort, { deadlineMs: 5000 })
    try {
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000)
        const r = await conn.call(['MGET', ...chunk], 30_000)
        const vals = r.kind === 'array' && r.value !== null ? r.value : []
        chunk.forEach((k, j) => {
          const v = vals[j]
          const got = v !== undefined && v.kind === 'bulk' && v.value !== null ? v.value.toString() : null
          if (got !== acked.get(k)) {
            copies++
            missingKeys.add(k)
            byNode[node.name] = (byNode[node.name] ?? 0) + 1
          }
        })
      }
    } finally {
      conn.destroy()
    }
  }
  return { copies, writes: missingKeys.size, byNode }
}

/** Runs the scenario; resolves with its figures. Processes belong to `t` (stopped in its teardown). */
export async function runScenario(t: Test, o: ScenarioOptions): Promise<ScenarioFigures> {
  const log = o.log ?? ((): void => {})
  const cluster = await startCluster(t, { ...o.layout, consistency: 'DC_ONE', pool: { gos_interval: 1000, ...o.pool } })
  await cluster.waitReady(60_000)
  const victim = cluster.node(o.kill.dc, o.kill.rack, o.kill.index)
  const frozen = cluster.nodes.filter((n) => n.dc === o.freeze.dc)
  // Writers and readers go through the first datacenter's nodes other than the victim.
  const entries = cluster.nodes.filter((n) => n.dc !== o.freeze.dc && n !== victim)
  const acked = new Map<string, string>()
  const ackedKeys: string[] = []
  const f = { refused: 0, clientTimeouts: 0, reads: 0, readErrors: 0, readNils: 0 }
  const refusedSamples = new Set<string>()
  /** When (ms from the start) reads through each node answered nil for an acknowledged key (the last 20). */
  const nilAt: Record<string, number[]> = {}
  const marks: Record<string, number> = {}
  /** For the first nils: which replicas' datastores lacked the key right after (what the read could have met). */
  const nilSamples: Promise<string>[] = []
  const racksOf = [...new Set(cluster.nodes.map((n) => `${n.dc}\u0000${n.rack}`))].map((s) => s.split('\u0000') as [string, string])
  const whoLacks = async (key: string, at: number, via: ClusterNode): Promise<string> => {
    const lacking: string[] = []
    for (const [dc, rack] of racksOf) {
      const owner = cluster.ownerOf(key, dc, rack)
      const r = await owner.redis.call('GET', key).catch(() => null)
      if (r === null || r.kind !== 'bulk' || r.value === null) lacking.push(owner.name)
    }
    return `${key} at ${at} ms via ${via.name}: lacking on ${lacking.join(', ') || 'none (arrived since)'}`
  }
  const readErrorSamples = new Set<string>()
  const timelineEnd = Math.max(o.kill.atMs + o.kill.forMs, o.freeze.atMs + o.freeze.forMs) + o.tailMs
  const t0 = Date.now()
  let stop = false

  const writer = async (w: number): Promise<void> => {
    const via = entries[w % entries.length]!
    let conn = await RespConnection.connect(via.clientPort, { deadlineMs: 5000 })
    try {
      for (let i = 0; i < o.maxWritesPerWriter && !stop; i++) {
        const key = `sc:${w}:${i}`
        const value = `v${w}-${i}`
        try {
          const r = await conn.call(['SET', key, value], 5000)
          if (r.kind === 'simple') {
            acked.set(key, value)
            ackedKeys.push(key)
          } else {
            f.refused++
            if (refusedSamples.size < 5) refusedSamples.add(JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)))
          }
        } catch {
          f.clientTimeouts++
          conn.destroy()
          conn = await RespConnection.connect(via.clientPort, { deadlineMs: 5000 })
        }
      }
    } finally {
      conn.destroy()
    }
  }

  const reader = async (r: number): Promise<void> => {
    const via = entries[r % entries.length]!
    let conn = await RespConnection.connect(via.clientPort, { deadlineMs: 5000 })
    try {
      for (let i = 0; i < 1_000_000 && !stop; i++) {
        if (ackedKeys.length === 0) {
          await sleep(10)
          continue
        }
        // A key acknowledged before the last 200 (its replicas had time to get it).
        const key = ackedKeys[Math.floor(Math.random() * Math.max(1, ackedKeys.length - 200))]!
        f.reads++
        try {
          const rep = await conn.call(['GET', key], 5000)
          if (rep.kind === 'error') {
            f.readErrors++
            if (readErrorSamples.size < 5) readErrorSamples.add(rep.value)
          } else if (rep.kind === 'bulk' && rep.value === null) {
            f.readNils++
            nilAt[via.name] = [...(nilAt[via.name] ?? []), Date.now() - t0].slice(-20)
            if (nilSamples.length < 5) nilSamples.push(whoLacks(key, Date.now() - t0, via))
          }
        } catch {
          f.readErrors++
          readErrorSamples.add('client deadline (5 s)')
          conn.destroy()
          conn = await RespConnection.connect(via.clientPort, { deadlineMs: 5000 })
        }
      }
    } finally {
      conn.destroy()
    }
  }

  const faults = async (): Promise<{ detection: Record<string, number>; backAt: number }> => {
    let detection: Record<string, number> = {}
    let victimBack = 0
    let thawed = 0
    const killer = (async (): Promise<void> => {
      await sleep(o.kill.atMs)
      log(`kill -9 ${victim.name}`)
      const killedAt = Date.now()
      marks['kill'] = killedAt - t0
      await victim.kill()
      const watch = watchDetection(cluster.nodes, victim, killedAt)
      await sleep(Math.max(0, killedAt + o.kill.forMs - Date.now()))
      log(`restart ${victim.name}`)
      marks['restart'] = Date.now() - t0
      await victim.start()
      victimBack = Date.now()
      marks['victimServing'] = victimBack - t0
      detection = await watch
    })()
    const freezer = (async (): Promise<void> => {
      await sleep(o.freeze.atMs)
      log(`SIGSTOP ${o.freeze.dc}`)
      marks['freeze'] = Date.now() - t0
      for (const n of frozen) n.proxy?.kill('SIGSTOP')
      try {
        await sleep(o.freeze.forMs)
      } finally {
        for (const n of frozen) n.proxy?.kill('SIGCONT')
        log(`SIGCONT ${o.freeze.dc}`)
        thawed = Date.now()
        marks['thaw'] = thawed - t0
      }
    })()
    await Promise.all([killer, freezer])
    return { detection, backAt: Math.max(victimBack, thawed) }
  }

  const timeline = (async (): Promise<void> => {
    await sleep(timelineEnd)
    stop = true
  })()
  const work = Promise.all([...Array.from({ length: o.writers }, (_, w) => writer(w)), reader(0), reader(1)])
  const { detection, backAt } = await faults()
  await timeline
  await work
  stop = true
  log(`writers done: ${acked.size} acknowledged; checking replicas ${o.settleMs} ms after everything was back`)
  // How soon the replicas hold every acknowledged write (polled from when everything is back), then the check at settleMs.
  let convergedAfterMs = -1
  for (let i = 0; i < 1000 && Date.now() < backAt + o.settleMs + o.convergeMs; i++) {
    if ((await missingOn(cluster, acked)).copies === 0) {
      convergedAfterMs = Date.now() - backAt
      break
    }
    await sleep(500)
  }
  await sleep(Math.max(0, backAt + o.settleMs - Date.now()))
  const m = await missingOn(cluster, acked)
  let last = m.copies
  const deadline = backAt + o.settleMs + o.convergeMs
  while (last > 0 && Date.now() < deadline) {
    await sleep(1000)
    last = (await missingOn(cluster, acked)).copies
  }
  let hintsReplayed = 0
  let hintsDropped = 0
  for (const n of cluster.nodes) {
    const text = await metricsOf(n)
    hintsReplayed += sumFigure(text, 'hints_replayed_total')
    hintsDropped += sumFigure(text, 'hints_dropped_total')
  }
  const detVals = Object.values(detection)
  return {
    acked: acked.size,
    refused: f.refused,
    refusedSamples: [...refusedSamples],
    clientTimeouts: f.clientTimeouts,
    missingCopies: m.copies,
    missingWrites: m.writes,
    missingByNode: m.byNode,
    convergedAfterMs,
    missingAtDeadline: last,
    reads: f.reads,
    readErrors: f.readErrors,
    readNils: f.readNils,
    readErrorSamples: [...readErrorSamples],
    readNilsAt: nilAt,
    readNilSamples: await Promise.all(nilSamples),
    marks,
    detectionMs: detection,
    detectionMaxMs: detVals.includes(-1) ? -1 : Math.max(...detVals),
    hintsReplayed,
    hintsDropped,
    durationMs: Date.now() - t0,
  }
}
