// Seed providers beyond dyn_seeds (Dynomite's dyn_seed_provider): a file re-read when it changes (dyn_seeds_file), Dynomite's florida
// provider (an HTTP endpoint answering `host:port:rack:dc:tokens|...`) and its DNS provider (TXT records of dyn_seeds_dns, one seed
// each). Each yields seed descriptors; the cluster worker adds the ones it does not know. Never blocks: reads and lookups are
// asynchronous and bounded in time and size, and a source that fails keeps the seeds it had (logged once per kind of failure).
import { readFile, stat } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import http from 'node:http';
import type { PoolConfig } from '../config/index.ts';

/** Bytes a seed file or a florida answer may have (a seed line is ~60 bytes: room for thousands of nodes). */
const MAX_SEED_BYTES = 1 << 20;
const FETCH_TIMEOUT_MS = 5000;

/** Seed descriptors in a text: separated by `|`, newlines or commas-free whitespace lines; `#` comments and blanks dropped. */
export function seedLines(text: string): string[] {
  return text.split(/[|\r\n]+/).map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l !== '');
}

export interface SeedSourceDeps {
  pool: PoolConfig;
  /** Seeds read (descriptors as in dyn_seeds); called after every successful read, whatever changed. */
  found(seeds: string[], from: string): void;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

export class SeedSources {
  private readonly d: SeedSourceDeps;
  private timers: NodeJS.Timeout[] = [];
  private fileStamp = '';
  private lastError = new Map<string, string>();

  constructor(deps: SeedSourceDeps) {
    this.d = deps;
  }

  /** The configured providers (none: only dyn_seeds, which the config already holds). */
  start(): void {
    const p = this.d.pool;
    if (p.dynSeedsFile !== null) this.every(2000, () => this.readFile(p.dynSeedsFile as string));
    if (p.dynSeedProvider === 'florida_provider') this.every(p.seedsRefresh, () => this.florida());
    if (p.dynSeedProvider === 'dns_provider') this.every(p.seedsRefresh, () => this.dns());
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private every(ms: number, f: () => Promise<void>): void {
    let busy = false;
    const run = (): void => {
      if (busy) return;
      busy = true;
      void f().finally(() => (busy = false));
    };
    run();
    const t = setInterval(run, Math.max(100, ms));
    t.unref();
    this.timers.push(t);
  }

  private failed(kind: string, why: string): void {
    if (this.lastError.get(kind) === why) return;
    this.lastError.set(kind, why);
    this.d.log('warn', 'seed provider failed; the seeds known so far stay', { provider: kind, error: why });
  }

  private ok(kind: string, seeds: string[]): void {
    this.lastError.delete(kind);
    this.d.found(seeds, kind);
  }

  /** dyn_seeds_file: read when its size or mtime changed (a rename over it included). */
  private async readFile(path: string): Promise<void> {
    try {
      const st = await stat(path);
      const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
      if (stamp === this.fileStamp) return;
      if (st.size > MAX_SEED_BYTES) return this.failed('file', `${path} has ${st.size} bytes (at most ${MAX_SEED_BYTES})`);
      const text = await readFile(path, 'utf8');
      this.fileStamp = stamp;
      this.ok('file', seedLines(text));
    } catch (err) {
      this.failed('file', err instanceof Error ? err.message : String(err));
    }
  }

  /** florida_provider: GET the seeds from an HTTP endpoint (Dynomite's DYNOMITE_FLORIDA_IP / _PORT / _REQUEST, or dyn_seeds_url). */
  private florida(): Promise<void> {
    const url = this.d.pool.dynSeedsUrl ?? floridaUrl();
    return new Promise<void>((resolve) => {
      const req = http.get(url, { timeout: FETCH_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_SEED_BYTES) req.destroy(new Error(`answer over ${MAX_SEED_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) this.failed('florida', `${url}: HTTP ${res.statusCode}`);
          else this.ok('florida', seedLines(Buffer.concat(chunks).toString('utf8')));
          resolve();
        });
        res.on('error', (err) => {
          this.failed('florida', `${url}: ${err.message}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (err) => {
        this.failed('florida', `${url}: ${err.message}`);
        resolve();
      });
    });
  }

  /** dns_provider: the TXT records of dyn_seeds_dns (or DYNOMITE_DNS_NAME), each a seed; dyn_seeds_dns_servers picks the resolvers. */
  private async dns(): Promise<void> {
    const p = this.d.pool;
    const name = p.dynSeedsDns ?? process.env['DYNOMITE_DNS_NAME'] ?? null;
    if (name === null) return this.failed('dns', 'no name to resolve: set dyn_seeds_dns (or DYNOMITE_DNS_NAME)');
    const r = new Resolver({ timeout: FETCH_TIMEOUT_MS, tries: 2 });
    if (p.dynSeedsDnsServers.length > 0) r.setServers(p.dynSeedsDnsServers);
    try {
      const records = await r.resolveTxt(name);
      this.ok('dns', records.flatMap((chunks) => seedLines(chunks.join(''))));
    } catch (err) {
      this.failed('dns', `${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function floridaUrl(): string {
  const ip = process.env['DYNOMITE_FLORIDA_IP'] ?? '127.0.0.1';
  const port = process.env['DYNOMITE_FLORIDA_PORT'] ?? '8080';
  const path = process.env['DYNOMITE_FLORIDA_REQUEST'] ?? 'REST/v1/admin/get_seeds';
  return `http://${ip}:${port}/${path.replace(/^\//, '')}`;
}
