// HintFiles: one worker's hints kept in hints_dir (hint-file.ts format), buffered and written once per event-loop turn, removed when a queue empties.
// Never throws into the request path: a disk error turns persistence off for this worker (reported once); no fsync (a crash may lose the last turn's hints).
import fs from 'node:fs';
import path from 'node:path';
import { decodeFile, encodeHeader, encodeRecord, encodeSkip, hintFileName, listHintFiles, REC_HINT } from './hint-file.ts';
import type { HintQueue, HintStore } from './hint-store.ts';
import type { HintsEvent } from '../messages.ts';

/** What the hints layer tells persistence (hints.ts calls these from its HintSink side). */
export interface HintPersistence {
  appended(q: HintQueue, bytes: Uint8Array, forward: boolean, at: number): void;
  removed(q: HintQueue): void;
  emptied(q: HintQueue): void;
  /** Write what is buffered (also called from the pool's timer). */
  flush(): void;
}

interface FileState {
  readonly path: string;
  fd: number;
  pending: Buffer[];
  /** Head removals not yet written. */
  skip: number;
  /** Head removals written since the file was last rewritten (compaction when they outweigh the live hints). */
  skipped: number;
}

/** Rewrite a file with only its live hints once this many removals are recorded in it and they outnumber the live ones. */
const COMPACT_AFTER = 4096;

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync never returns for a path under /proc (seen on Linux with
 * Node 24), which would hang the worker at start; a plain mkdir fails there at once (ENOENT) and is reported.
 */
function makeDirs(dir: string): void {
  const full = path.resolve(dir);
  const parts = full.split(path.sep).filter((p) => p !== '');
  let at = path.parse(full).root;
  for (const p of parts) {
    at = path.join(at, p);
    try {
      fs.mkdirSync(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  if (!fs.statSync(full).isDirectory()) throw new Error(`${full} is not a directory`);
}

export class HintFiles implements HintPersistence {
  private readonly dir: string;
  private readonly pool: string;
  private readonly worker: number;
  private readonly family: string;
  private readonly report: (e: HintsEvent) => void;
  private readonly files = new Map<HintQueue, FileState>();
  private scheduled = false;
  private broken = false;
  private readonly flushNow = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** `family`: 'w' for a data worker (numbered `worker`), 'c' for the cluster worker (hint-file.ts listHintFiles). */
  constructor(dir: string, pool: string, worker: number, report: (e: HintsEvent) => void, family = 'w') {
    this.dir = dir;
    this.pool = pool;
    this.worker = worker;
    this.family = family;
    this.report = report;
    try {
      makeDirs(dir);
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * Read this worker's files (and those of workers that no longer exist: worker k's go to k mod workers) into `store`, then
   * rewrite each target's file with what was kept. A corrupt tail or header is reported; the good prefix is kept.
   * `monoNow`/`wallNow`: the clocks, to turn stored wall-clock times into the queue's monotonic ones.
   */
  load(store: HintStore, workers: number, monoNow: number, wallNow: number): void {
    for (const { file, worker } of listHintFiles(this.dir, this.pool, this.family)) {
      if (worker % Math.max(1, workers) !== this.worker) continue;
      let buf: Buffer;
      try {
        buf = fs.readFileSync(file);
      } catch (e) {
        this.report({ target: file, what: 'file-corrupt', count: 0, reason: `cannot read: ${(e as Error).message}` });
        continue;
      }
      const d = decodeFile(buf);
      if (d.id === null) {
        this.report({ target: file, what: 'file-corrupt', count: buf.length, reason: 'unreadable header: file set aside (.corrupt)' });
        this.tryRename(file, `${file}.corrupt`);
        continue;
      }
      const q = store.queue(d.id);
      for (const h of d.hints) store.add(q, h.bytes, h.forward, monoNow - Math.max(0, wallNow - h.at));
      if (d.badBytes > 0) {
        // The records after the good prefix cannot be counted: one drop stands for them, the log has the bytes.
        store.sink.dropped(d.id, 1, 'corrupt or truncated hints file tail');
        this.report({ target: d.id, what: 'file-corrupt', count: d.badBytes, reason: `bytes after the good prefix of ${path.basename(file)} dropped` });
      }
      if (d.hints.length > 0) this.report({ target: d.id, what: 'loaded', count: d.hints.length, reason: path.basename(file) });
      this.tryUnlink(file);
    }
    for (const q of store.queues.values()) if (q.count > 0) this.rewrite(q, monoNow, wallNow);
  }

  appended(q: HintQueue, bytes: Uint8Array, forward: boolean): void {
    if (this.broken) return;
    this.state(q).pending.push(encodeRecord(REC_HINT, forward, Date.now(), bytes));
    this.schedule();
  }

  removed(q: HintQueue): void {
    if (this.broken) return;
    this.state(q).skip++;
    this.schedule();
  }

  emptied(q: HintQueue): void {
    const s = this.files.get(q);
    if (s === undefined) return;
    s.pending = [];
    s.skip = 0;
    s.skipped = 0;
    if (s.fd >= 0) this.tryClose(s);
    this.tryUnlink(s.path);
  }

  flush(): void {
    if (this.broken) return;
    for (const [q, s] of this.files) {
      if (s.pending.length === 0 && s.skip === 0) continue;
      if (s.skipped + s.skip > COMPACT_AFTER && s.skipped + s.skip > q.count) {
        this.rewrite(q, performance.now(), Date.now());
        continue;
      }
      try {
        if (s.fd < 0) {
          s.fd = fs.openSync(s.path, 'w');
          fs.writeSync(s.fd, encodeHeader(q.id));
        }
        if (s.skip > 0) s.pending.push(encodeSkip(s.skip, Date.now()));
        fs.writeSync(s.fd, s.pending.length === 1 ? (s.pending[0] as Buffer) : Buffer.concat(s.pending));
        s.skipped += s.skip;
        s.skip = 0;
        s.pending = [];
      } catch (e) {
        this.fail(e);
        return;
      }
    }
  }

  /** Replace `q`'s file by its live hints only (times converted back to wall clock). */
  private rewrite(q: HintQueue, monoNow: number, wallNow: number): void {
    const s = this.state(q);
    if (s.fd >= 0) this.tryClose(s);
    const tmp = `${s.path}.tmp`;
    try {
      const parts: Buffer[] = [encodeHeader(q.id)];
      for (let i = 0; i < q.count; i++) parts.push(encodeRecord(REC_HINT, q.forwardAt(i), wallNow - (monoNow - q.timeAt(i)), q.bytesAt(i)));
      fs.writeFileSync(tmp, Buffer.concat(parts));
      fs.renameSync(tmp, s.path);
      s.fd = fs.openSync(s.path, 'a');
      s.pending = [];
      s.skip = 0;
      s.skipped = 0;
    } catch (e) {
      this.fail(e);
    }
  }

  private state(q: HintQueue): FileState {
    let s = this.files.get(q);
    if (s === undefined) {
      s = { path: path.join(this.dir, hintFileName(this.pool, this.worker, q.id, this.family)), fd: -1, pending: [], skip: 0, skipped: 0 };
      this.files.set(q, s);
    }
    return s;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushNow);
  }

  private fail(e: unknown): void {
    if (this.broken) return;
    this.broken = true;
    this.report({ target: this.dir, what: 'dir-unwritable', count: 0, reason: `hints kept in memory only: ${(e as Error).message}` });
  }

  private tryClose(s: FileState): void {
    try {
      fs.closeSync(s.fd);
    } catch {
      // already closed
    }
    s.fd = -1;
  }

  private tryUnlink(file: string): void {
    try {
      fs.unlinkSync(file);
    } catch {
      // gone already
    }
  }

  private tryRename(from: string, to: string): void {
    try {
      fs.renameSync(from, to);
    } catch {
      this.tryUnlink(from);
    }
  }
}
