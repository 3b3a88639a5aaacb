// TLS cost on the client port: redis-benchmark SET/GET through one dynoproxy with a plain pool and a TLS pool (same datastore),
// interleaved rounds, median rps per mode, and the TLS/plain ratio at each pipeline depth. Also direct Redis with and without --tls.
// Never leaves a process running (ProcessGroup stops all on end, error and signals) and never edits BENCHMARKS.md itself.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median, relativeSpread } from './lib/median.ts';
import { ProcessGroup } from './lib/process-group.ts';
import { parseRedisBenchmarkCsv } from './lib/redis-benchmark-csv.ts';
import { fileStamp } from './lib/results-store.ts';
import { dynoproxyEntry, launchOnFreePort, loopback, projectNodeBinary, repoRoot, startRedisServer, type LaunchContext } from './lib/server-launchers.ts';
import { freePort } from './lib/free-port.ts';
import { clockTicksPerSecond, readCpuTicks } from './lib/proc-stats.ts';

const ticks = clockTicksPerSecond();

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '100000' },
    clients: { type: 'string', default: '50' },
    pipelines: { type: 'string', default: '1,16' },
    workers: { type: 'string', default: '1' },
  },
});
const rounds = Number(values.rounds);
const requests = Number(values.requests);
const clients = Number(values.clients);
const workers = Number(values.workers);
const pipelines = values.pipelines.split(',').map(Number);

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bench-ca']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

interface Mode {
  name: string;
  port: number;
  tls: boolean;
  /** The server whose CPU per request is measured (the proxy, or redis for the direct modes). */
  pid: number;
}

async function main(): Promise<void> {
  const dir = join(repoRoot, 'bench', 'results', 'tmp', `tls-${fileStamp(new Date())}`);
  mkdirSync(dir, { recursive: true });
  const certs = makeCerts(dir);
  const group = new ProcessGroup();
  const ctx: LaunchContext = { group, dir };
  try {
    const tlsPort = await freePort();
    const redis = await startRedisServer(ctx, 'redis-server', ['--tls-port', String(tlsPort), '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no']);
    const tlsProxyPort = await freePort();
    const statsPort = await freePort();
    const proxy = await launchOnFreePort(ctx, 'dynoproxy', workers, async (port) => {
      const pool = (name: string, listen: number, extra: string[]): string[] => [
        `${name}:`, `  listen: ${loopback}:${listen}`, `  stats_listen: ${loopback}:${statsPort}`, '  servers:', `    - ${loopback}:${redis.port}:1`, '  data_store: 0', '  timeout: 5000', ...extra,
      ];
      const config = [
        ...pool('plain', port, []),
        ...pool('tls', tlsProxyPort, [`  tls_cert: ${certs.cert}`, `  tls_key: ${certs.key}`]),
        '',
      ].join('\n');
      const path = join(dir, 'dynoproxy.yml');
      writeFileSync(path, config);
      return group.start({ name: 'dynoproxy', command: projectNodeBinary(), args: [dynoproxyEntry, '-c', path, '--workers', String(workers)], cwd: repoRoot, logPath: join(dir, 'dynoproxy.log') });
    });
    const modes: Mode[] = [
      { name: 'redis plain', port: redis.port, tls: false, pid: redis.process.pid },
      { name: 'redis tls', port: tlsPort, tls: true, pid: redis.process.pid },
      { name: 'dynoproxy plain', port: proxy.port, tls: false, pid: proxy.process.pid },
      { name: 'dynoproxy tls', port: tlsProxyPort, tls: true, pid: proxy.process.pid },
    ];
    const run = async (m: Mode, pipeline: number, n: number): Promise<Map<string, number>> => {
      const args = ['-h', loopback, '-p', String(m.port), '-t', 'set,get', '-c', String(clients), '-n', String(n), '-P', String(pipeline), '-q', '--csv'];
      if (m.tls) args.push('--tls', '--cacert', certs.ca);
      const cpu0 = readCpuTicks(m.pid);
      const { stdout } = await group.run({ name: 'redis-benchmark', command: 'redis-benchmark', args }, 60_000 + n);
      const cpuUs = ((readCpuTicks(m.pid) - cpu0) / ticks) * 1e6;
      const out = new Map(parseRedisBenchmarkCsv(stdout).map((r) => [r.test, r.rps]));
      // Server CPU per request over both tests (SET and GET: 2n requests): steadier than rps on a shared machine.
      out.set('CPU', cpuUs / (2 * n));
      return out;
    };
    for (const m of modes) for (const p of pipelines) await run(m, p, 20_000);
    const samples = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const p of pipelines) {
        // Interleaved: each round runs every mode once, so drift on the shared machine hits them alike.
        for (const m of modes) {
          const got = await run(m, p, requests);
          for (const [test, rps] of got) {
            const k = `${m.name}|${p}|${test}`;
            samples.set(k, [...(samples.get(k) ?? []), rps]);
          }
        }
      }
      process.stderr.write(`round ${r + 1}/${rounds} done\n`);
    }
    const lines = ['| target | P | test | plain (median) | TLS (median) | TLS / plain | spread plain / TLS |', '|---|---|---|---|---|---|---|'];
    for (const target of ['redis', 'dynoproxy']) {
      for (const p of pipelines) {
        for (const test of ['SET', 'GET', 'CPU']) {
          const a = samples.get(`${target} plain|${p}|${test}`) ?? [];
          const b = samples.get(`${target} tls|${p}|${test}`) ?? [];
          const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
          const digits = test === 'CPU' ? 2 : 0;
          const what = test === 'CPU' ? 'server CPU µs/request' : `${test} rps`;
          lines.push(`| ${target} | ${p} | ${what} | ${median(a).toFixed(digits)} | ${median(b).toFixed(digits)} | ${(median(b) / median(a)).toFixed(2)} | ${pct(relativeSpread(a))} / ${pct(relativeSpread(b))} |`);
        }
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stdout.write(`samples: ${JSON.stringify(Object.fromEntries(samples))}\n`);
  } finally {
    await group.stopAll();
    // Throwaway keys and configs: nothing here is worth keeping.
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
