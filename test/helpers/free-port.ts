// Free loopback TCP port finder: a random port below the kernel's ephemeral range that binds now, closed again for the caller.
// Below that range on purpose: the tests' own outgoing connections take ephemeral ports all the time, and a port picked by listen(0)
// (an ephemeral one) was seen taken by such a connection before the node under test bound it (EADDRINUSE at its start).
// It must never hold the port open: the caller binds it next (a small race other helpers retry on), and it never hands
// the same port out twice in one test process.

import net from 'node:net'
import { readFileSync } from 'node:fs'

const handedOut = new Set<number>()

/** The lowest port the kernel hands to outgoing connections (Linux; 32768 when unknown). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > 0 ? low : 32768
  } catch {
    return 32768
  }
}

const LOW = 10_000
const HIGH = Math.min(ephemeralLow(), 65_536)

/** Binds `port` (0: the kernel's choice) exclusively and closes it; the port bound, or null when it was taken. */
async function probe(host: string, port: number): Promise<number | null> {
  const server = net.createServer()
  const bound = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(false) : reject(err)))
    server.listen({ port, host, exclusive: true }, () => resolve(true))
  })
  if (!bound) return null
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no TCP address from listen')
  return address.port
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    // A range too small to pick from (an unusual ip_local_port_range): the kernel's choice, as before.
    const want = HIGH - LOW >= 2000 && attempt < 150 ? LOW + Math.floor(Math.random() * (HIGH - LOW)) : 0
    const port = await probe(host, want)
    if (port !== null && !handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freePort: no free port found')
}
