// Free loopback TCP port finder: binds port 0, reads the port the kernel chose, closes.
// It must never hold the port open: the caller binds it next (a small race other helpers retry on), and it never hands
// the same port out twice in one test process (the kernel may offer a just-closed port again before anyone bound it).

import net from 'node:net'

const handedOut = new Set<number>()

async function probe(host: string): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port: 0, host, exclusive: true }, () => resolve())
  })
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no TCP address from listen(0)')
  return address.port
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await probe(host)
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('freePort: the kernel kept offering ports already handed out')
}
