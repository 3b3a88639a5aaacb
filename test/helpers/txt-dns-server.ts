// A tiny authoritative DNS server on loopback UDP that answers TXT queries from a table the test sets (dns_provider seeds).
// It must never answer other types than TXT (NXDOMAIN-free: an empty answer), and it closes in teardown.
import dgram from 'node:dgram'
import type { Test } from 'tap'

export class TxtDnsServer {
  readonly records = new Map<string, string[]>()
  queries = 0
  private readonly socket: dgram.Socket
  readonly port: number
  private constructor(socket: dgram.Socket, port: number) {
    this.socket = socket
    this.port = port
  }

  static async start(t: Test): Promise<TxtDnsServer> {
    const socket = dgram.createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    const server = new TxtDnsServer(socket, socket.address().port)
    socket.on('message', (msg, rinfo) => server.answer(msg, rinfo))
    t.teardown(() => socket.close())
    return server
  }

  private answer(q: Buffer, to: dgram.RemoteInfo): void {
    if (q.length < 17) return
    this.queries++
    let i = 12
    const labels: string[] = []
    while (i < q.length && q[i] !== 0) {
      const n = q[i]!
      labels.push(q.subarray(i + 1, i + 1 + n).toString('latin1'))
      i += n + 1
    }
    const qEnd = i + 5
    const qtype = q.readUInt16BE(i + 1)
    const name = labels.join('.').toLowerCase()
    const texts = qtype === 16 ? (this.records.get(name) ?? []) : []
    const answers = texts.map((text) => {
      const b = Buffer.from(text)
      const chunks: Buffer[] = []
      for (let o = 0; o < b.length; o += 255) {
        const c = b.subarray(o, o + 255)
        chunks.push(Buffer.from([c.length]), c)
      }
      const rdata = Buffer.concat(chunks)
      const head = Buffer.alloc(12)
      head.writeUInt16BE(0xc00c, 0)
      head.writeUInt16BE(16, 2)
      head.writeUInt16BE(1, 4)
      head.writeUInt32BE(1, 6)
      head.writeUInt16BE(rdata.length, 10)
      return Buffer.concat([head, rdata])
    })
    const header = Buffer.alloc(12)
    q.copy(header, 0, 0, 2)
    header.writeUInt16BE(0x8180, 2)
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(answers.length, 6)
    this.socket.send(Buffer.concat([header, q.subarray(12, qEnd), ...answers]), to.port, to.address)
  }
}
