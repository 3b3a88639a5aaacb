// Spawns the real twemproxy (nutcracker) on loopback as a reference implementation for key placement.
// It must never share its stats port with another instance: each gets its own free port.

import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { ChildProcessHandle, registerTempDir, removeTempDir } from './child-process-handle.ts'
import { freePort } from './free-port.ts'
import { GiveUp, canConnect, waitFor } from './wait-for.ts'

export type Twemproxy = { port: number; stop(): Promise<unknown>; output(): string }

/** Starts nutcracker with the given YAML and waits for its listen port(s). Stopped in teardown. */
export async function startTwemproxy(t: Test, yamlText: string, listen: number | number[]): Promise<Twemproxy> {
  const ports = Array.isArray(listen) ? listen : [listen]
  const port = ports[0]!
  const dir = registerTempDir(mkdtempSync(path.join(os.tmpdir(), 'dynoproxy-itest-nutcracker-')))
  const configPath = path.join(dir, 'nutcracker.yml')
  writeFileSync(configPath, yamlText)
  const statsPort = await freePort()
  const proc = new ChildProcessHandle(`nutcracker:${port}`, 'nutcracker', [
    '-c', configPath,
    '-s', String(statsPort),
    '-a', '127.0.0.1',
    '-v', '4',
  ])
  t.teardown(async () => {
    await proc.stop()
    removeTempDir(dir)
  })
  try {
    await waitFor(
      async () => {
        if (proc.hasExited) throw new GiveUp('nutcracker exited during startup')
        return (await Promise.all(ports.map((p) => canConnect(p)))).every(Boolean)
      },
      10_000,
      `nutcracker to listen on ${ports.join(', ')}`,
    )
  } catch (err) {
    await proc.stop()
    throw new Error(`${(err as Error).message}\n--- config ---\n${yamlText}\n--- nutcracker output ---\n${proc.output()}`)
  }
  return { port, stop: () => proc.stop(), output: () => proc.output() }
}
