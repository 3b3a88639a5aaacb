// Starts benchmark servers and tools as child processes and guarantees they are all stopped.
// Never leaves a child running: stopAll() runs on normal end, on error, and on SIGINT/SIGTERM.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface ProcessSpec {
  /** Short label for messages, e.g. "redis-server". */
  name: string;
  command: string;
  args: readonly string[];
  /**
   * stdout and stderr go to this file, so a failure can show the tail. Without it both are
   * captured in memory (for short tools whose output is the result, like redis-benchmark).
   */
  logPath?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string | undefined;
  readonly exited: Promise<ExitInfo>;
  /** Resolves when the child has exited and its captured pipes (if any) are closed. */
  readonly drained: Promise<void>;
  private readonly child: ChildProcess;
  private exitInfo: ExitInfo | null = null;
  private readonly captured: { stdout: string[]; stderr: string[] } = { stdout: [], stderr: [] };

  constructor(spec: ProcessSpec) {
    this.name = spec.name;
    this.logPath = spec.logPath;
    if (spec.logPath !== undefined) {
      const logFd = openSync(spec.logPath, 'a');
      try {
        this.child = spawn(spec.command, spec.args, {
          cwd: spec.cwd,
          env: spec.env ?? process.env,
          stdio: ['ignore', logFd, logFd],
        });
      } finally {
        closeSync(logFd);
      }
    } else {
      this.child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child.stdout!.setEncoding('utf8').on('data', (s: string) => this.captured.stdout.push(s));
      this.child.stderr!.setEncoding('utf8').on('data', (s: string) => this.captured.stderr.push(s));
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once('error', (err) => {
        this.exitInfo = { code: -1, signal: null };
        resolve(this.exitInfo);
        process.emitWarning(`${spec.name}: ${err.message}`);
      });
    });
    this.drained = new Promise((resolve) => {
      this.child.once('close', () => resolve());
      this.child.once('error', () => resolve());
    });
    if (this.child.pid === undefined) {
      // spawn reports ENOENT asynchronously; a pid of 0 makes every /proc read fail loudly.
      this.pid = 0;
    } else {
      this.pid = this.child.pid;
    }
  }

  /** "exit code 1", "signal SIGKILL", or "running". */
  describeExit(): string {
    if (this.exitInfo === null) return this.pid === 0 ? 'not started' : 'running';
    return this.exitInfo.signal !== null ? `signal ${this.exitInfo.signal}` : `exit code ${this.exitInfo.code}`;
  }

  get running(): boolean {
    return this.exitInfo === null && this.pid !== 0;
  }

  get stdout(): string {
    return this.captured.stdout.join('');
  }

  get stderr(): string {
    return this.captured.stderr.join('');
  }

  /** Last lines of the log (or of captured stderr), for error messages. */
  logTail(lines = 20): string {
    let text: string;
    try {
      text = this.logPath === undefined ? this.stderr : readFileSync(this.logPath, 'utf8');
    } catch {
      return '(no log)';
    }
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL if it has not exited within graceMs. */
  async stop(graceMs = 3000): Promise<ExitInfo> {
    if (this.exitInfo !== null) return this.exitInfo;
    if (this.pid === 0) return this.exited;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (this.exitInfo === null) this.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }

  /** Synchronous last resort for process 'exit' handlers, where nothing can be awaited. */
  killNow(): void {
    if (this.exitInfo === null && this.pid !== 0) this.child.kill('SIGKILL');
  }
}

export class ProcessGroup {
  private readonly members = new Set<ManagedProcess>();
  private handlersInstalled = false;

  start(spec: ProcessSpec): ManagedProcess {
    this.installHandlers();
    const proc = new ManagedProcess(spec);
    this.members.add(proc);
    void proc.exited.then(() => this.members.delete(proc));
    return proc;
  }

  /**
   * Runs a short tool to completion and returns its captured output. Past timeoutMs it is killed
   * and this rejects, so a hung server under test cannot hang the benchmark.
   */
  async run(spec: Omit<ProcessSpec, 'logPath'>, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
    const proc = this.start(spec);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([proc.exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      await proc.stop(1000);
      throw new Error(`${spec.name} did not finish within ${timeoutMs} ms (killed):\n${proc.logTail()}`);
    }
    // 'exit' can come before the pipes are drained; the 'close' of both streams follows shortly.
    await proc.drained;
    if (outcome.code !== 0) {
      throw new Error(`${spec.name} exited with ${outcome.code ?? outcome.signal}:\n${proc.logTail()}`);
    }
    return { stdout: proc.stdout, stderr: proc.stderr };
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.members].map((p) => p.stop()));
  }

  private installHandlers(): void {
    if (this.handlersInstalled) return;
    this.handlersInstalled = true;
    process.once('exit', () => {
      for (const p of this.members) p.killNow();
    });
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        process.stderr.write(`\n${signal}: stopping ${this.members.size} child process(es)\n`);
        void this.stopAll().finally(() => process.exit(130));
      });
    }
  }
}
