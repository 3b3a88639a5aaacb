// memcapable -a (libmemcached's ASCII protocol conformance tests) run against dynoproxy over 1 and 3 memcached backends.
// It must never pass on a silent regression: every test the proxy supports must pass, and the known failures are exactly those listed.

import { spawn, spawnSync } from 'node:child_process'
import t from 'tap'
import { startMemcached, startProxiedMemcached } from '../helpers/memcached.ts'

/** Debian 12 ships the tool as memccapable (libmemcached-awesome); other systems as memcapable. */
function findMemcapable(): string | undefined {
  for (const name of ['memcapable', 'memccapable']) {
    const probe = spawnSync(name, ['-h'], { stdio: 'ignore' })
    if (probe.error === undefined) return name
  }
  return undefined
}

/**
 * The ASCII tests the proxy does not pass, and why. `ascii stat` sends `stats noreply` and wants an error line
 * (memcached answers ERROR to an unknown stats subcommand); the proxy answers every `stats ...` line itself with
 * its own STAT block, so memcapable reads STAT lines where it wants the error.
 */
const KNOWN_FAILURES: Record<string, string> = {}

type Outcome = { results: Map<string, string>; output: string; code: number | null }

async function runMemcapable(bin: string, port: number): Promise<Outcome> {
  const child = spawn(bin, ['-h', '127.0.0.1', '-p', String(port), '-a', '-t', '2'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')))
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearTimeout(timer)
  const results = new Map<string, string>()
  for (const m of output.matchAll(/^(ascii .+?)\s+\[(\w+)\]\s*$/gm)) results.set(m[1]!, m[2]!)
  return { results, output, code }
}

const bin = findMemcapable()
if (bin === undefined) {
  t.fail('memcapable not found: install libmemcached-tools (it is memccapable on Debian 12)')
} else {
  const reference = await startMemcached(t)
  const direct = await runMemcapable(bin, reference.port)
  const allTests = [...direct.results.keys()]

  t.test('the reference memcached passes every ASCII test (the list to hold the proxy to)', async (t) => {
    t.ok(allTests.length >= 25, `memcapable ran ${allTests.length} ASCII tests`)
    t.same([...direct.results].filter(([, r]) => r !== 'pass'), [], direct.output)
    t.equal(direct.code, 0)
  })

  for (const backends of [1, 3]) {
    t.test(`through dynoproxy with ${backends} backend(s)`, async (t) => {
      const cluster = await startProxiedMemcached(t, { backends })
      const run = await runMemcapable(bin, cluster.port)
      t.same([...run.results.keys()], allTests, 'the same tests ran')
      const failing = [...run.results].filter(([, r]) => r !== 'pass').map(([name]) => name).sort()
      t.same(failing, Object.keys(KNOWN_FAILURES).sort(), `exactly the known failures fail: ${JSON.stringify(KNOWN_FAILURES)}`)
      for (const name of allTests) {
        if (KNOWN_FAILURES[name] === undefined) t.equal(run.results.get(name), 'pass', name)
      }
      t.notMatch(cluster.proxy.output(), /"level":60/, 'the proxy logged nothing fatal')
    })
  }
}
