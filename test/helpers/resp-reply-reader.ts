// Test-side RESP2/RESP3 reply decoder: turns bytes from a server into typed reply trees.
// It must never hide a framing error: anything it cannot parse throws, so a garbled proxy reply fails the test.

export type RespReply =
  | { kind: 'simple'; value: string }
  | { kind: 'error'; value: string }
  | { kind: 'integer'; value: bigint }
  | { kind: 'bulk'; value: Buffer | null }
  | { kind: 'array'; value: RespReply[] | null }
  | { kind: 'null' }
  | { kind: 'double'; value: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'map'; value: RespReply[] }
  | { kind: 'set'; value: RespReply[] }
  | { kind: 'push'; value: RespReply[] }
  | { kind: 'verbatim'; value: Buffer }

const CR = 13
const LF = 10

/**
 * Incremental decoder. Bytes are appended into one growable buffer (doubling), so a 64 MiB bulk
 * costs O(size) and not O(size^2) in re-concatenation.
 */
export class RespReplyReader {
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024)
  private start = 0
  private end = 0
  /** Bytes a pending incomplete reply needs before a re-parse can succeed (skips hopeless retries). */
  private needUntil = 0
  private readonly replies: RespReply[] = []

  /** Appends bytes; returns how many complete replies are now queued. */
  push(chunk: Buffer): number {
    this.append(chunk)
    if (this.end >= this.needUntil) this.drain()
    return this.replies.length
  }

  get pending(): number {
    return this.replies.length
  }

  /** Bytes received that do not yet form a complete reply. */
  get bufferedBytes(): number {
    return this.end - this.start
  }

  shift(): RespReply | undefined {
    return this.replies.shift()
  }

  take(n: number): RespReply[] {
    return this.replies.splice(0, n)
  }

  private append(chunk: Buffer): void {
    const need = this.end + chunk.length
    if (need > this.buf.length) {
      const live = this.end - this.start
      if (live + chunk.length <= this.buf.length / 2) {
        this.buf.copy(this.buf, 0, this.start, this.end)
      } else {
        let size = this.buf.length * 2
        while (size < live + chunk.length) size *= 2
        const next = Buffer.allocUnsafe(size)
        this.buf.copy(next, 0, this.start, this.end)
        this.buf = next
      }
      this.needUntil -= this.start
      this.start = 0
      this.end = live
    }
    chunk.copy(this.buf, this.end)
    this.end += chunk.length
  }

  private drain(): void {
    for (;;) {
      const at = this.parse(this.start)
      if (at === null) break
      this.replies.push(at.reply)
      this.start = at.next
    }
    if (this.start === this.end) {
      this.start = 0
      this.end = 0
      this.needUntil = 0
    }
  }

  private lineEnd(from: number): number {
    for (let i = from; i + 1 < this.end; i++) {
      if (this.buf[i] === CR) {
        if (this.buf[i + 1] !== LF) throw new Error(`RESP: CR without LF at offset ${i}`)
        return i
      }
    }
    return -1
  }

  private parse(pos: number): { reply: RespReply; next: number } | null {
    if (pos >= this.end) return null
    const type = this.buf[pos]
    const eol = this.lineEnd(pos + 1)
    if (eol < 0) return null
    const line = this.buf.toString('latin1', pos + 1, eol)
    const next = eol + 2
    switch (type) {
      case 0x2b: // +
        return { reply: { kind: 'simple', value: line }, next }
      case 0x2d: // -
        return { reply: { kind: 'error', value: line }, next }
      case 0x3a: // :
        return { reply: { kind: 'integer', value: parseInteger(line) }, next }
      case 0x5f: // _
        return { reply: { kind: 'null' }, next }
      case 0x2c: // ,
        return { reply: { kind: 'double', value: line }, next }
      case 0x28: // (
        return { reply: { kind: 'integer', value: parseInteger(line) }, next }
      case 0x23: // #
        return { reply: { kind: 'boolean', value: line === 't' }, next }
      case 0x24: // $
      case 0x3d: { // =
        const len = Number(parseInteger(line))
        if (len === -1 && type === 0x24) return { reply: { kind: 'bulk', value: null }, next }
        if (len < 0) throw new Error(`RESP: bad bulk length ${line}`)
        if (next + len + 2 > this.end) {
          this.needUntil = next + len + 2
          return null
        }
        if (this.buf[next + len] !== CR || this.buf[next + len + 1] !== LF) {
          throw new Error('RESP: bulk not terminated by CRLF')
        }
        const value = Buffer.from(this.buf.subarray(next, next + len))
        if (type === 0x3d) return { reply: { kind: 'verbatim', value }, next: next + len + 2 }
        return { reply: { kind: 'bulk', value }, next: next + len + 2 }
      }
      case 0x2a: // *
      case 0x25: // %
      case 0x7e: // ~
      case 0x3e: { // >
        const count = Number(parseInteger(line))
        if (count === -1 && type === 0x2a) return { reply: { kind: 'array', value: null }, next }
        if (count < 0) throw new Error(`RESP: bad aggregate length ${line}`)
        const items: RespReply[] = []
        const total = type === 0x25 ? count * 2 : count
        let at = next
        for (let i = 0; i < total; i++) {
          const item = this.parse(at)
          if (item === null) return null
          items.push(item.reply)
          at = item.next
        }
        const kind = type === 0x2a ? 'array' : type === 0x25 ? 'map' : type === 0x7e ? 'set' : 'push'
        return { reply: { kind, value: items } as RespReply, next: at }
      }
      default:
        throw new Error(`RESP: unexpected type byte 0x${(type ?? 0).toString(16)} at offset ${pos}`)
    }
  }
}

function parseInteger(line: string): bigint {
  if (!/^-?\d+$/.test(line)) throw new Error(`RESP: bad integer ${JSON.stringify(line)}`)
  return BigInt(line)
}

/** Readable, comparable form of a reply: errors stay tagged, bulk strings become latin1 text. */
export function plain(reply: RespReply): unknown {
  switch (reply.kind) {
    case 'simple':
      return { ok: reply.value }
    case 'error':
      return { err: reply.value }
    case 'integer':
      return Number(reply.value)
    case 'bulk':
      return reply.value === null ? null : reply.value.toString('latin1')
    case 'verbatim':
      return reply.value.toString('latin1')
    case 'array':
      return reply.value === null ? null : reply.value.map(plain)
    case 'null':
      return null
    case 'double':
      return reply.value
    case 'boolean':
      return reply.value
    case 'map':
    case 'set':
    case 'push':
      return { [reply.kind]: reply.value.map(plain) }
  }
}

export function isError(reply: RespReply | undefined): reply is { kind: 'error'; value: string } {
  return reply !== undefined && reply.kind === 'error'
}
