// Spawned server processes for tests: output capture, exit tracking, graceful stop, and a last-resort kill.
// It must never leave a process behind: every child is killed when the test process exits, even on a crash.

import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null }

const OUTPUT_TAIL_BYTES = 64 * 1024
const live = new Set<ChildProcess>()
const tempDirs = new Set<string>()

/** A temp dir removed at teardown normally, and at process exit if the test died before its teardown. */
export function registerTempDir(dir: string): string {
  tempDirs.add(dir)
  return dir
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  live.clear()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

process.on('exit', killAllNow)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const onSignal = (): void => {
    killAllNow()
    // Only re-raise when nobody else (tap) handles the signal, so its default action still happens.
    if (process.listenerCount(signal) === 1) {
      process.removeListener(signal, onSignal)
      process.kill(process.pid, signal)
    }
  }
  process.on(signal, onSignal)
}

export class ChildProcessHandle {
  readonly child: ChildProcess
  readonly name: string
  readonly exited: Promise<ExitStatus>
  private tail = ''
  private exitStatus: ExitStatus | undefined
  /** stop() was called (by a test or a teardown): an exit after it is not the process's own doing. */
  stopRequested = false

  constructor(name: string, command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.name = name
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
    live.add(this.child)
    const capture = (chunk: Buffer): void => {
      this.tail += chunk.toString('utf8')
      if (this.tail.length > OUTPUT_TAIL_BYTES) this.tail = this.tail.slice(-OUTPUT_TAIL_BYTES)
    }
    this.child.stdout?.on('data', capture)
    this.child.stderr?.on('data', capture)
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child)
        this.exitStatus = { code, signal }
        resolve(this.exitStatus)
      })
      this.child.once('error', (err) => {
        capture(Buffer.from(`spawn error: ${err.message}\n`))
        live.delete(this.child)
        this.exitStatus = { code: null, signal: null }
        resolve(this.exitStatus)
      })
    })
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name}: not spawned`)
    return this.child.pid
  }

  get hasExited(): boolean {
    return this.exitStatus !== undefined
  }

  /** The last 64 KiB of stdout+stderr, for failure messages. */
  output(): string {
    return this.tail
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.hasExited) this.child.kill(signal)
  }

  /**
   * SIGTERM (after SIGCONT, in case a test stopped it), then SIGKILL if it has not exited within graceMs.
   * Resolves with how it exited.
   */
  async stop(graceMs = 5000): Promise<ExitStatus> {
    if (this.exitStatus !== undefined) return this.exitStatus
    this.stopRequested = true
    this.child.kill('SIGCONT')
    this.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        resolve()
      }, graceMs)
    })
    await Promise.race([this.exited, forced])
    clearTimeout(timer)
    return this.exited
  }
}
