// The membership bench's client load: writers (new keys and overwrites of pre-filled keys, each writer owning its own) and readers of
// pre-filled keys, then a check of every acknowledged write. Never runs unbounded: every loop has a count and a time bound.
import { Redis } from 'ioredis';

const HOST = '127.0.0.1';
const VALUE = 'v'.repeat(56);
/** What every counter (ctr:i) holds before the load. */
export const COUNTER_BASE = 1000;

export interface LoadFigures {
  writes: number;
  writeErrors: number;
  reads: number;
  nils: number;
  readErrors: number;
  wrong: number;
  seconds: number;
  errorSamples: string[];
}

/** The acknowledged state: a key's last acked value, or for a key whose last write failed, every value it may hold now. */
export class Acked {
  readonly values = new Map<string, string>();
  readonly maybe = new Map<string, string[]>();
  /** Counters (INCR): acknowledged increments, and failed ones (each may or may not have applied). */
  readonly incrs = new Map<string, { base: number; acked: number; failed: number }>();
  incr(key: string, ok: boolean): void {
    const c = this.incrs.get(key) ?? { base: COUNTER_BASE, acked: 0, failed: 0 };
    if (ok) c.acked++;
    else c.failed++;
    this.incrs.set(key, c);
  }
  ack(key: string, value: string): void {
    this.values.set(key, value);
    this.maybe.delete(key);
  }
  failed(key: string, value: string): void {
    const was = this.values.get(key);
    const m = this.maybe.get(key) ?? (was === undefined ? [] : [was]);
    m.push(value);
    this.maybe.set(key, m);
  }
  accepts(key: string, got: string | null): boolean {
    const m = this.maybe.get(key);
    if (m === undefined) return got === this.values.get(key);
    if (got !== null && m.includes(got)) return true;
    if (this.values.has(key)) return false;
    // Never acknowledged: a new key may be absent, a pre-filled one may still hold DEBUG POPULATE's value.
    return key.startsWith('m:') ? got === null : got !== null && got.startsWith(`value:${key.slice(4)}`);
  }
}

export interface LoadOptions {
  /** Client ports the writers use, round-robin (writer w on ports[w % length]). */
  writerPorts: number[];
  readerPort: number;
  writers: number;
  readers: number;
  /** Pre-filled keys are key:0 .. key:prefilled-1 (DEBUG POPULATE). */
  prefilled: number;
  /** Writers overwrite key:i for i < overwriteSpan, writer w the i with i % writers === w. */
  overwriteSpan: number;
  /** Counters ctr:0 .. ctr:counters-1 hold COUNTER_BASE before the load; 1 write in 8 is an INCR of one (writer w the i with
   * i % writers === w); 0: SET only. */
  counters: number;
  /** Tag of this load run, in new keys' names. */
  tag: string;
  maxMs: number;
  maxOpsPerConnection: number;
}

/** Runs the load until stop() or its bounds; the caller verifies `acked` afterwards. */
export function startLoad(o: LoadOptions, acked: Acked): { stop(): void; done: Promise<LoadFigures> } {
  let stopped = false;
  const f: LoadFigures = { writes: 0, writeErrors: 0, reads: 0, nils: 0, readErrors: 0, wrong: 0, seconds: 0, errorSamples: [] };
  const started = Date.now();
  const over = (): boolean => stopped || Date.now() - started > o.maxMs;
  const sample = (s: string): void => {
    if (f.errorSamples.length < 8) f.errorSamples.push(s);
  };
  const conn = (port: number): Redis => new Redis({ host: HOST, port, maxRetriesPerRequest: 0, enableAutoPipelining: false, retryStrategy: () => 50, enableOfflineQueue: true });
  const writers = Array.from({ length: o.writers }, async (_, w) => {
    const c = conn(o.writerPorts[w % o.writerPorts.length]!);
    const mine = Math.ceil((o.overwriteSpan - w) / o.writers);
    const myCounters = Math.ceil((o.counters - w) / o.writers);
    for (let n = 0; !over() && n < o.maxOpsPerConnection; n++) {
      if (n % 8 === 1 && myCounters > 0) {
        const key = `ctr:${w + o.writers * ((n >> 3) % myCounters)}`;
        f.writes++;
        try {
          await c.incr(key);
          acked.incr(key, true);
        } catch (err) {
          f.writeErrors++;
          acked.incr(key, false);
          sample(`INCR ${key}: ${(err as Error).message}`);
        }
        continue;
      }
      const key = n % 4 === 0 && mine > 0 ? `key:${w + o.writers * ((n >> 2) % mine)}` : `m:${o.tag}:${w}:${n}`;
      const value = `${o.tag}:${w}:${n}:${VALUE}`;
      f.writes++;
      try {
        const r = await c.set(key, value);
        if (r === 'OK') acked.ack(key, value);
        else {
          f.writeErrors++;
          acked.failed(key, value);
          sample(`SET ${key}: ${String(r)}`);
        }
      } catch (err) {
        f.writeErrors++;
        acked.failed(key, value);
        sample(`SET ${key}: ${(err as Error).message}`);
      }
    }
    c.disconnect();
  });
  const readers = Array.from({ length: o.readers }, async (_, k) => {
    const c = conn(o.readerPort);
    for (let n = k; !over() && n < o.maxOpsPerConnection; n += o.readers) {
      // Keys past the overwrite span keep DEBUG POPULATE's value: "value:<i>".
      const i = o.overwriteSpan + ((n * 7919) % (o.prefilled - o.overwriteSpan));
      f.reads++;
      try {
        const v = await c.get(`key:${i}`);
        if (v === null) {
          f.nils++;
          sample(`GET key:${i}: nil`);
        } else if (!v.startsWith(`value:${i}`)) {
          f.wrong++;
          sample(`GET key:${i}: ${v.slice(0, 40)}`);
        }
      } catch (err) {
        f.readErrors++;
        sample(`GET key:${i}: ${(err as Error).message}`);
      }
    }
    c.disconnect();
  });
  const done = Promise.all([...writers, ...readers]).then(() => {
    f.seconds = (Date.now() - started) / 1000;
    return f;
  });
  return { stop: () => (stopped = true), done };
}

/** GETs `keys` on one port in pipelines; returns the values in order. */
export async function getAll(port: number, keys: readonly string[]): Promise<(string | null)[]> {
  const c = new Redis({ host: HOST, port, maxRetriesPerRequest: 0 });
  const out: (string | null)[] = [];
  try {
    for (let i = 0; i < keys.length; i += 2000) {
      const p = c.pipeline();
      for (const k of keys.slice(i, i + 2000)) p.get(k);
      for (const [err, v] of (await p.exec()) ?? []) out.push(err === null ? (v as string | null) : `ERR ${err.message}`);
    }
  } finally {
    c.disconnect();
  }
  return out;
}

export interface Verification {
  checked: number;
  /** Counters whose value on their owner is not COUNTER_BASE + the acknowledged increments (+ up to the failed ones). */
  countersChecked: number;
  countersWrong: number;
  /** Acknowledged increments missing from the counters that read low, summed. */
  incrementsLost: number;
  missingViaProxy: number;
  missingOnOwner: number;
  prefilledMissingOnOwner: number;
  samples: string[];
}

/**
 * Every counter on its owner's redis (then re-based to what it holds, so the next phase counts only its own losses).
 * Every acknowledged write read back through `proxyPort` and on its owner's redis (ownerRedis(key) gives its port), and every
 * pre-filled key outside the overwrite span on its owner's redis.
 */
export async function verify(acked: Acked, proxyPort: number, ownerRedis: (key: string) => number, prefilled: number, overwriteSpan: number): Promise<Verification> {
  const keys = [...new Set([...acked.values.keys(), ...acked.maybe.keys()])];
  const v: Verification = { checked: keys.length, countersChecked: 0, countersWrong: 0, incrementsLost: 0, missingViaProxy: 0, missingOnOwner: 0, prefilledMissingOnOwner: 0, samples: [] };
  const via = await getAll(proxyPort, keys);
  const byOwner = new Map<number, number[]>();
  keys.forEach((k, i) => {
    const list = byOwner.get(ownerRedis(k)) ?? [];
    list.push(i);
    byOwner.set(ownerRedis(k), list);
  });
  keys.forEach((k, i) => {
    if (!acked.accepts(k, via[i]!)) {
      v.missingViaProxy++;
      if (v.samples.length < 8) v.samples.push(`via proxy ${k}: want ${acked.values.get(k)?.slice(0, 24)} got ${via[i]?.slice(0, 24)}`);
    }
  });
  for (const [port, idx] of byOwner) {
    const got = await getAll(port, idx.map((i) => keys[i]!));
    idx.forEach((i, j) => {
      if (!acked.accepts(keys[i]!, got[j]!)) {
        v.missingOnOwner++;
        if (v.samples.length < 8) v.samples.push(`on owner ${port} ${keys[i]}: want ${acked.values.get(keys[i]!)?.slice(0, 24)} got ${got[j]?.slice(0, 24)}`);
      }
    });
  }
  const ctrs = [...acked.incrs.keys()];
  const ctrByOwner = new Map<number, string[]>();
  for (const k of ctrs) {
    const list = ctrByOwner.get(ownerRedis(k)) ?? [];
    list.push(k);
    ctrByOwner.set(ownerRedis(k), list);
  }
  for (const [port, list] of ctrByOwner) {
    const got = await getAll(port, list);
    list.forEach((k, j) => {
      const c = acked.incrs.get(k)!;
      const value = Number(got[j] ?? 0);
      const low = c.base + c.acked;
      v.countersChecked++;
      if (value < low || value > low + c.failed) {
        v.countersWrong++;
        if (value < low) v.incrementsLost += low - value;
        if (v.samples.length < 8) v.samples.push(`counter on owner ${port} ${k}: want ${low}${c.failed > 0 ? `..${low + c.failed}` : ''} got ${got[j]}`);
      }
      // The next phase counts its own losses: from what is there now.
      Object.assign(c, { base: value, acked: 0, failed: 0 });
    });
  }
  const pre = new Map<number, string[]>();
  for (let i = overwriteSpan; i < prefilled; i++) {
    const k = `key:${i}`;
    const list = pre.get(ownerRedis(k)) ?? [];
    list.push(k);
    pre.set(ownerRedis(k), list);
  }
  for (const [port, list] of pre) {
    const got = await getAll(port, list);
    got.forEach((g, j) => {
      if (g === null || !g.startsWith(`value:${list[j]!.slice(4)}`)) {
        v.prefilledMissingOnOwner++;
        if (v.samples.length < 8) v.samples.push(`prefilled on owner ${port} ${list[j]}: ${g?.slice(0, 24)}`);
      }
    });
  }
  return v;
}
