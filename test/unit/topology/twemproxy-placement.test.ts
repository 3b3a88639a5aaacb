// Checks ketama/modula placement and twemproxy's hashes against a real nutcracker in front of 3 redis-servers.
// Loopback only; every process it starts is stopped in teardown; skipped when nutcracker or redis is missing.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  buildKetama, buildModula, ketamaServerName, twemproxyHashFunction, twemproxyHashTagRange,
} from '../../../src/topology/index.ts';
import type { Distribution, ServerWeight, TwemproxyHashName } from '../../../src/topology/index.ts';
import { freePort } from '../../helpers/free-port.ts';


const NUTCRACKER = ['/usr/sbin/nutcracker', '/usr/bin/nutcracker', '/usr/local/bin/nutcracker'].find(existsSync);
const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(existsSync);
const DEADLINE_MS = 10_000;

// Every key hash twemproxy has; Dynomite's murmur3 has no twemproxy counterpart.
const TWEMPROXY_HASHES: TwemproxyHashName[] = ['one_at_a_time', 'md5', 'crc16', 'crc32', 'crc32a', 'fnv1_64',
  'fnv1a_64', 'fnv1_32', 'fnv1a_32', 'hsieh', 'murmur', 'jenkins'];
const WEIGHTS = [1, 2, 3];
// With these weights twemproxy's single-precision math gives the weight-29 server 228 points, not 232.
const FLOAT_EDGE_WEIGHTS = [1, 29, 30];
const KEYS_PER_POOL = 300;

interface Pool {
  name: string;
  /** When set, the pool lists this many named servers ("s0", "s1", ...) spread round-robin over the redis-servers. */
  namedServers?: number;
  hash: TwemproxyHashName;
  distribution: 'ketama' | 'modula';
  weights: number[];
  keyCount: number;
  hashTag?: string;
  port: number;
}

/** Minimal RESP reply reader: returns the parsed value and the offset after it, or undefined if incomplete. */
type Reply = string | number | Buffer | null | Error | Reply[];
function parseReply(buf: Buffer, at: number): [Reply, number] | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol === -1) return undefined;
  const line = buf.toString('latin1', at + 1, eol);
  switch (buf[at]) {
    case 0x2b: return [line, eol + 2];
    case 0x2d: return [new Error(line), eol + 2];
    case 0x3a: return [Number(line), eol + 2];
    case 0x24: {
      const n = Number(line);
      if (n < 0) return [null, eol + 2];
      if (buf.length < eol + 2 + n + 2) return undefined;
      return [buf.subarray(eol + 2, eol + 2 + n), eol + 2 + n + 2];
    }
    case 0x2a: {
      const items: Reply[] = [];
      let pos = eol + 2;
      for (let i = 0; i < Number(line); i++) {
        const r = parseReply(buf, pos);
        if (r === undefined) return undefined;
        items.push(r[0]);
        pos = r[1];
      }
      return [items, pos];
    }
    default: throw new Error(`bad RESP type byte ${buf[at]}`);
  }
}

function command(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Sends pipelined commands on one connection and resolves with their replies. */
function roundTrip(port: number, commands: Buffer[]): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const replies: Reply[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`timeout on port ${port}`)); }, DEADLINE_MS);
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      let at = 0;
      for (let r = parseReply(pending, at); r !== undefined; r = parseReply(pending, at)) {
        replies.push(r[0]);
        at = r[1];
      }
      pending = pending.subarray(at);
      if (replies.length === commands.length) {
        clearTimeout(timer);
        sock.end();
        resolve(replies);
      }
    });
    sock.write(Buffer.concat(commands));
  });
}

async function waitForPing(port: number): Promise<void> {
  const until = Date.now() + DEADLINE_MS;
  for (;;) {
    try {
      const [reply] = await roundTrip(port, [command(['PING'])]);
      if (reply === 'PONG') return;
    } catch (err) {
      if (Date.now() > until) throw err;
    }
    if (Date.now() > until) throw new Error(`port ${port} never answered PING`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Deterministic keys of many lengths, ASCII and binary, all starting with the pool's own prefix. */
function keysFor(pool: string, count: number): Buffer[] {
  const keys: Buffer[] = [];
  let seed = 0x9e3779b9;
  for (let i = 0; i < count; i++) {
    if (i % 3 === 2) {
      const bytes = Buffer.alloc(1 + (i % 41));
      for (let j = 0; j < bytes.length; j++) bytes[j] = (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) >>> 24;
      keys.push(Buffer.concat([Buffer.from(`${pool}:${i}:`), bytes]));
    } else if (i % 10 === 0) {
      keys.push(Buffer.from(`{user${i % 7}}${pool}:${i}`));
    } else {
      keys.push(Buffer.from(`${pool}:key:${i}:${'x'.repeat(i % 23)}`));
    }
  }
  return keys;
}

const skip = NUTCRACKER === undefined || REDIS === undefined ? 'nutcracker or redis-server not installed' : false;

t.test('ketama and modula placement matches the real twemproxy', { skip }, async (t) => {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'dynoproxy-twemproxy-'));
  t.teardown(async () => {
    await Promise.all(children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      child.kill('SIGTERM');
    })));
    rmSync(dir, { recursive: true, force: true });
  });

  const redisPorts = [await freePort(), await freePort(), await freePort()];
  for (const port of redisPorts) {
    children.push(spawn(REDIS!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' }));
  }
  await Promise.all(redisPorts.map(waitForPing));

  // The third server carries a configured name, which ketama hashes instead of "host:port"; being the shortest
  // name it also comes first in twemproxy's server order, which modula's slots follow.
  const serverLines = (p: Pool): string[] => p.namedServers !== undefined
    ? Array.from({ length: p.namedServers }, (_, i) => `127.0.0.1:${redisPorts[i % 3]}:1 s${i}`)
    : redisPorts.map((port, i) => `127.0.0.1:${port}:${p.weights[i]}${i === 2 ? ' redis-c' : ''}`);
  const serversOf = (p: Pool): ServerWeight[] => p.namedServers !== undefined
    ? Array.from({ length: p.namedServers }, (_, i) => ({
      name: ketamaServerName('127.0.0.1', redisPorts[i % 3], `s${i}`),
      weight: 1,
    }))
    : redisPorts.map((port, i) => ({
      name: ketamaServerName('127.0.0.1', port, i === 2 ? 'redis-c' : undefined),
      weight: p.weights[i],
    }));
  const redisOf = (p: Pool, server: number): number => (p.namedServers !== undefined ? server % 3 : server);

  const pools: Pool[] = [];
  const pool = (name: string, hash: TwemproxyHashName, distribution: 'ketama' | 'modula',
    extra: Partial<Pool> = {}): void => {
    pools.push({ name, hash, distribution, weights: WEIGHTS, keyCount: KEYS_PER_POOL, port: 0, ...extra });
  };
  for (const hash of TWEMPROXY_HASHES) pool(`k_${hash}`, hash, 'ketama');
  pool('m_fnv1a_64', 'fnv1a_64', 'modula');
  pool('m_murmur', 'murmur', 'modula');
  pool('kt_murmur', 'murmur', 'ketama', { hashTag: '{}' });
  pool('kw_md5', 'md5', 'ketama', { weights: FLOAT_EDGE_WEIGHTS, keyCount: 3000 });
  pool('mw_crc32a', 'crc32a', 'modula', { weights: FLOAT_EDGE_WEIGHTS });
  // 25 equal servers get 156 points each, not 160, from the same float rounding.
  pool('k25_murmur', 'murmur', 'ketama', { namedServers: 25, keyCount: 3000 });
  pool('m25_md5', 'md5', 'modula', { namedServers: 25 });
  for (const p of pools) p.port = await freePort();

  const yaml = pools.map((p) => [
    `${p.name}:`,
    `  listen: 127.0.0.1:${p.port}`,
    `  hash: ${p.hash}`,
    `  distribution: ${p.distribution}`,
    ...(p.hashTag === undefined ? [] : [`  hash_tag: "${p.hashTag}"`]),
    '  redis: true',
    '  auto_eject_hosts: false',
    '  timeout: 5000',
    '  servers:',
    ...serverLines(p).map((line) => `   - ${line}`),
  ].join('\n')).join('\n');
  const confPath = join(dir, 'nutcracker.yml');
  writeFileSync(confPath, `${yaml}\n`);

  const statsPort = await freePort();
  const nutcracker = spawn(NUTCRACKER!, ['-c', confPath, '-s', String(statsPort), '-a', '127.0.0.1',
    '-o', join(dir, 'nutcracker.log'), '-p', join(dir, 'nutcracker.pid')], { stdio: 'ignore' });
  children.push(nutcracker);
  await Promise.all(pools.map((p) => waitForPing(p.port)));

  // Write every pool's keys through twemproxy, then read back where each one landed.
  const poolKeys = new Map(pools.map((p) => [p.name, keysFor(p.name, p.keyCount)]));
  await Promise.all(pools.map(async (p) => {
    const replies = await roundTrip(p.port, poolKeys.get(p.name)!.map((k) => command(['SET', k, '1'])));
    t.ok(replies.every((r) => r === 'OK'), `${p.name}: every SET answered OK`);
  }));
  const holder = new Map<string, number>();
  for (let i = 0; i < redisPorts.length; i++) {
    const [keys] = await roundTrip(redisPorts[i], [command(['KEYS', '*'])]);
    for (const key of keys as Buffer[]) holder.set(key.toString('hex'), i);
  }
  t.equal(holder.size, pools.reduce((n, p) => n + p.keyCount, 0), 'every key is stored exactly once');

  const range = new Int32Array(2);
  for (const p of pools) {
    const servers = serversOf(p);
    const dist: Distribution = p.distribution === 'ketama' ? buildKetama(servers) : buildModula(servers);
    const hashFn = twemproxyHashFunction(p.hash);
    let mismatches = 0;
    const perServer = [0, 0, 0];
    for (const key of poolKeys.get(p.name)!) {
      if (p.hashTag === undefined) {
        range[0] = 0;
        range[1] = key.length;
      } else {
        twemproxyHashTagRange(key, 0, key.length, p.hashTag.charCodeAt(0), p.hashTag.charCodeAt(1), range);
      }
      const want = holder.get(key.toString('hex'));
      const got = redisOf(p, dist.lookup(hashFn(key, range[0], range[1])));
      if (got !== want) mismatches++;
      perServer[got]++;
    }
    t.equal(mismatches, 0, `${p.name}: all ${p.keyCount} keys on twemproxy's server (spread ${perServer})`);
  }
});
