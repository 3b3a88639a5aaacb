// Tests the SharedArrayBuffer topology table: roundtrip, ring ownership identical to TokenRing, validation, the
// seqlock (including real worker threads reading while the main thread republishes) and no allocation per read.
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import {
  createTopologyBuffer, decodeTopology, NODE_STATE, parseDynToken, TokenRing, TopologyReader, TopologyWriter,
  type DynToken, type TopologySnapshot,
} from '../../../src/topology/index.ts';
import type { ReaderWorkerData, ReaderWorkerResult } from './fixtures/topology-reader-worker.ts';

const capacity = { maxNodes: 64, maxTokens: 512, maxStringBytes: 4096 };
const tok = (s: string): DynToken => parseDynToken(s);

/** A deterministic pseudo-random sequence, so failures reproduce. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
}

/** dcs x racksPerDc racks, nodes spread over them, each with tokensPerNode random tokens. Tokens sorted per node. */
function makeSnapshot(seed: number, dcs: number, racksPerDc: number, nodes: number, tokensPerNode: number): TopologySnapshot {
  const rnd = lcg(seed);
  const racks = Array.from({ length: dcs * racksPerDc }, (_, r) => ({ name: `dc${r % dcs}-rack${r}-${'x'.repeat(seed % 7)}`, dc: r % dcs }));
  return {
    datacenters: Array.from({ length: dcs }, (_, d) => `datacenter-${seed}-${d}`),
    racks,
    nodes: Array.from({ length: nodes }, (_, i) => ({
      host: i % 3 === 0 ? `10.${seed & 255}.0.${i}` : i % 3 === 1 ? `fd00::${i.toString(16)}` : `node-${i}.example-${seed}`,
      rack: i % racks.length,
      clientPort: 8102 + i + seed,
      peerPort: 8101 + i,
      state: [NODE_STATE.NORMAL, NODE_STATE.JOINING, NODE_STATE.DOWN, NODE_STATE.STANDBY][(i + seed) % 4],
      isLocal: i === seed % nodes,
      tokens: Array.from({ length: tokensPerNode }, () => ({ signum: 1, mag: rnd() }))
        .sort((a, b) => a.mag - b.mag),
    })),
  };
}

/** What TokenRing (the reference) says for each rack and hash; -1 for a rack the snapshot lacks or an empty one. */
function referenceOwners(s: TopologySnapshot, racks: number, hashes: readonly number[]): number[][] {
  return Array.from({ length: racks }, (_, r) => {
    if (r >= s.racks.length) return hashes.map(() => -1);
    const members = s.nodes.flatMap((n, i) => (n.rack === r ? n.tokens.map((tk) => ({ tk, i })) : []));
    const ring = new TokenRing(members.map((m) => m.tk), members.map((m) => m.i));
    return hashes.map((h) => ring.lookup(h));
  });
}

t.test('publish then snapshot gives back the same topology, in a fresh reader and a long-lived one', async (t) => {
  const table = createTopologyBuffer(capacity);
  const writer = new TopologyWriter(table);
  const reader = new TopologyReader(table);
  t.same(reader.snapshot(), { version: 0, datacenters: [], racks: [], nodes: [] }, 'a new table is empty');
  t.equal(reader.ownerInRack(0, 123), -1);
  const s: TopologySnapshot = {
    datacenters: ['dc-1', 'européen'],
    racks: [{ name: 'rack1', dc: 0 }, { name: 'ラック2', dc: 1 }, { name: 'empty', dc: 1 }],
    nodes: [
      { host: '127.0.0.1', rack: 0, clientPort: 8102, peerPort: 8101, state: NODE_STATE.NORMAL, isLocal: true, tokens: [tok('0'), tok('1073741824')] },
      { host: '::1', rack: 0, clientPort: 9102, peerPort: 9101, state: NODE_STATE.WRITES_ONLY, isLocal: false, tokens: [tok('2147483648'), tok('-5')] },
      { host: 'n3.example', rack: 1, clientPort: 0, peerPort: 65535, state: 255, isLocal: false, tokens: [tok('00'), tok('4294967295')] },
      { host: '', rack: 1, clientPort: 1, peerPort: 2, state: NODE_STATE.DOWN, isLocal: false, tokens: [] },
    ],
  };
  t.equal(writer.publish(s), 1);
  t.same(reader.snapshot(), { ...s, version: 1 });
  t.same(new TopologyReader(table).snapshot(), { ...s, version: 1 });
  t.same(decodeTopology(table), { ...s, version: 1 }, 'decodeTopology reads the shared buffer too');
  t.same([reader.version, reader.datacenterCount, reader.rackCount, reader.nodeCount, reader.localNode], [1, 2, 3, 4, 0]);
  t.same([reader.nodeRack(2), reader.nodeDc(2), reader.nodeClientPort(1), reader.nodePeerPort(2), reader.nodeState(1)],
    [1, 1, 9102, 65535, NODE_STATE.WRITES_ONLY]);
  t.same([reader.isLocalNode(0), reader.isLocalNode(1), reader.rackDc(1), reader.rackDc(3), reader.nodeState(4)], [true, false, 1, -1, -1]);
  t.equal(reader.ownerInRack(2, 5), -1, 'an empty rack owns nothing');
  t.equal(reader.ownerInRack(3, 5), -1, 'an unknown rack owns nothing');
  const big = makeSnapshot(7, 3, 2, 60, 8);
  t.equal(writer.publish(big), 2);
  t.same(reader.snapshot(), { ...big, version: 2 }, 'a republish replaces everything, shorter names included');
  t.equal(reader.localNode, 7);
});

t.test('ownerInRack is exactly TokenRing.lookup, on the Dynomite vectors and on random rings', async (t) => {
  const rv = JSON.parse(readFileSync('/work/shared/vectors/ring-vectors.json', 'utf8')) as Record<string, { tokens: string[]; hashToOwnerIndex: Record<string, number> }>;
  const table = createTopologyBuffer(capacity);
  const writer = new TopologyWriter(table);
  const reader = new TopologyReader(table);
  for (const name of ['rawHashDispatch', 'rawHashDispatchRing2']) {
    const { tokens, hashToOwnerIndex } = rv[name];
    writer.publish({
      datacenters: ['dc'], racks: [{ name: 'r', dc: 0 }],
      nodes: tokens.map((tk, i) => ({ host: `h${i}`, rack: 0, clientPort: 1, peerPort: 2, state: 4, isLocal: false, tokens: [tok(tk)] })),
    });
    for (const [hash, owner] of Object.entries(hashToOwnerIndex)) t.equal(reader.ownerInRack(0, Number(hash)), owner, `${name} ${hash}`);
  }
  const rnd = lcg(42);
  for (let round = 0; round < 20; round++) {
    const s = makeSnapshot(round, 1 + (round % 3), 1 + (round % 2), 5 + round * 2, 1 + (round % 5));
    // Some duplicate tokens across nodes of a rack, where Dynomite's binary search decides the owner.
    if (round % 4 === 0) s.nodes[s.racks.length].tokens = [...s.nodes[0].tokens];
    writer.publish(s);
    const hashes = [0, 1, 0xffffffff, ...s.nodes.flatMap((n) => n.tokens.flatMap((tk) => [tk.mag, tk.mag + 1, tk.mag - 1].map((h) => h >>> 0)))];
    for (let i = 0; i < 200; i++) hashes.push(rnd());
    const want = referenceOwners(s, s.racks.length + 1, hashes);
    const got = want.map((_, r) => hashes.map((h) => reader.ownerInRack(r, h)));
    if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`round ${round} differs from TokenRing`);
  }
  t.pass('20 random topologies agree');
});

t.test('an invalid snapshot throws before the table changes', async (t) => {
  const table = createTopologyBuffer({ maxNodes: 4, maxTokens: 4, maxStringBytes: 32, maxRacks: 2, maxDatacenters: 1 });
  const writer = new TopologyWriter(table);
  const reader = new TopologyReader(table);
  const good = makeSnapshot(1, 1, 2, 4, 1);
  good.datacenters = ['d'];
  good.racks = good.racks.map((r, i) => ({ ...r, name: `r${i}` }));
  good.nodes = good.nodes.map((n, i) => ({ ...n, host: `h${i}` }));
  writer.publish(good);
  const bad: [string, (s: TopologySnapshot) => void][] = [
    ['too many nodes', (s) => s.nodes.push({ ...s.nodes[0] })],
    ['too many racks', (s) => s.racks.push({ name: 'x', dc: 0 })],
    ['too many datacenters', (s) => s.datacenters.push('e')],
    ['too many tokens', (s) => s.nodes[0].tokens.push({ signum: 1, mag: 5 })],
    ['names too long', (s) => { s.nodes[0].host = 'x'.repeat(30); }],
    ['rack of an unknown dc', (s) => { s.racks[0].dc = 1; }],
    ['node of an unknown rack', (s) => { s.nodes[0].rack = 2; }],
    ['port out of range', (s) => { s.nodes[0].peerPort = 65536; }],
    ['fractional port', (s) => { s.nodes[0].clientPort = 1.5; }],
    ['state out of range', (s) => { s.nodes[0].state = 256; }],
    ['bad token signum', (s) => { s.nodes[0].tokens = [{ signum: 2, mag: 1 }]; }],
  ];
  for (const [what, mutate] of bad) {
    const s = structuredClone(good);
    mutate(s);
    t.throws(() => writer.publish(s), RangeError, what);
  }
  t.equal(writer.version, 1);
  t.same(reader.snapshot(), { ...good, version: 1 }, 'readers still see the last good snapshot');
  t.throws(() => createTopologyBuffer({ maxNodes: 0, maxTokens: 1, maxStringBytes: 0 }), RangeError);
  t.throws(() => new TopologyReader(new SharedArrayBuffer(1024)), RangeError, 'not a table');
});

t.test('seqlock: a half-written table keeps readers on their copy; one writer only; a new writer takes over', async (t) => {
  const table = createTopologyBuffer(capacity);
  const writer = new TopologyWriter(table);
  const a = makeSnapshot(1, 1, 2, 6, 2);
  const b = makeSnapshot(2, 2, 1, 9, 3);
  writer.publish(a);
  const reader = new TopologyReader(table);
  const seq = new Int32Array(table);
  // A writer that dies mid-publish: seq stays odd and the data is half old, half new.
  Atomics.add(seq, 0, 1);
  new Uint8Array(table).fill(0xee, 200, 400);
  const fresh = new TopologyReader(table);
  t.equal(fresh.refresh(), false, 'a reader made meanwhile has no consistent copy');
  t.same(fresh.snapshot(), { version: 0, datacenters: [], racks: [], nodes: [] }, 'and shows an empty table rather than a torn one');
  t.equal(reader.refresh(), false);
  t.same(reader.snapshot(), { ...a, version: 1 }, 'an older reader keeps the copy it had');
  t.throws(() => writer.publish(b), /exactly one writer/, 'a live writer sees someone else mid-publish');
  const successor = new TopologyWriter(table);
  t.equal(successor.publish(b), 2, 'a writer made on a half-written table takes it over');
  t.equal(reader.refresh(), true);
  t.same(reader.snapshot(), { ...b, version: 2 });
  t.same(fresh.snapshot(), { ...b, version: 2 });
});

t.test('a torn read is never observed by worker threads reading while the table is republished', async (t) => {
  // Room for 2^18 tokens puts ~3 MiB between the rack slots and the names: a reader's copy then lasts long
  // enough that the writer often starts while it runs (with a small table a copy takes ~1 us and rarely overlaps).
  const table = createTopologyBuffer({ ...capacity, maxTokens: 1 << 18 });
  const writer = new TopologyWriter(table);
  // Two snapshots that differ in every part: counts, names and their lengths, ports, states, tokens.
  const variants = [makeSnapshot(11, 2, 2, 40, 6), makeSnapshot(24, 3, 2, 60, 8)];
  const strip = (s: TopologySnapshot): string => JSON.stringify({ ...s, version: undefined });
  const hashes = Array.from({ length: 64 }, lcg(5));
  writer.publish(variants[0]);
  const control = new SharedArrayBuffer(8);
  const data: ReaderWorkerData = {
    table, control, hashes, deadlineMs: 15_000,
    expected: variants.map((v) => strip({ ...v })),
    owners: variants.map((v) => referenceOwners(v, 6, hashes)),
  };
  // Round-trip the expectations through the table once, so a difference in JSON shape cannot pass for a tear.
  t.equal(strip(new TopologyReader(table).snapshot()), data.expected[0]);
  const workers = [0, 1].map(() => new Worker(new URL('./fixtures/topology-reader-worker.ts', import.meta.url), { workerData: data }));
  t.teardown(() => Promise.all(workers.map((w) => w.terminate())));
  const results = workers.map((w) => new Promise<ReaderWorkerResult>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker exited (${code}) before reporting`)));
  }));
  const ready = Date.now() + 10_000;
  while (Atomics.load(new Int32Array(control), 1) < workers.length && Date.now() < ready) await new Promise((r) => setTimeout(r, 5));
  t.equal(Atomics.load(new Int32Array(control), 1), workers.length, 'workers are reading');
  let publishes = 0;
  const stopAt = Date.now() + 2000;
  // At least 1000 republishes however slow the machine is (a count, not a speed), bounded well inside the workers' deadline.
  const hardStop = Date.now() + 12_000;
  // Odd versions carry variants[0], even ones variants[1].
  while (publishes < 20_000 && (publishes < 1000 || Date.now() < stopAt) && Date.now() < hardStop) {
    writer.publish(variants[(writer.version + 1) % 2 === 1 ? 0 : 1]);
    publishes++;
  }
  Atomics.store(new Int32Array(control), 0, 1);
  const outs = await Promise.all(results);
  t.ok(publishes >= 1000, `${publishes} publishes`);
  for (const [i, out] of outs.entries()) {
    t.same(out.errors, [], `worker ${i}: no torn or misattributed view`);
    t.ok(out.versionsSeen >= 10, `worker ${i} saw ${out.versionsSeen} versions`);
    t.ok(out.ownerChecks >= 100, `worker ${i} checked ${out.ownerChecks} batches of owners`);
    t.comment(`worker ${i}: ${out.fullChecks} full checks, ${out.staleRefreshes} stale refreshes; control: ${out.rawTorn} of ${out.rawCopies} unsynchronized copies were torn`);
  }
});

t.test('ownerInRack allocates nothing while the version stays', async (t) => {
  const table = createTopologyBuffer(capacity);
  new TopologyWriter(table).publish(makeSnapshot(3, 2, 3, 48, 8));
  const reader = new TopologyReader(table);
  let gcs = 0;
  const observer = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
  observer.observe({ entryTypes: ['gc'] });
  t.teardown(() => observer.disconnect());
  const hashes = new Uint32Array(1024).map(lcg(9));
  let sink = 0;
  const run = (calls: number): void => {
    for (let i = 0; i < calls; i++) sink ^= reader.ownerInRack(i % 6, hashes[i & 1023]) + reader.nodeState(i & 63);
  };
  run(50_000);
  await new Promise((r) => setTimeout(r, 30));
  const before = gcs;
  run(1_000_000);
  await new Promise((r) => setTimeout(r, 30));
  t.equal(gcs - before, 0, 'no GC in a million lookups');
  t.ok(sink !== undefined);
});
