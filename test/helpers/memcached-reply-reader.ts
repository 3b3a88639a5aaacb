// Test-side framer of memcached text and meta replies: cuts a reply byte stream into whole replies without interpreting them.
// It must never guess: a line it cannot frame (a bad VALUE header, a data block without its CRLF) throws, so a garbled proxy reply fails the test.

/** One whole reply: `head` is its first line (latin1, without CRLF), `raw` every byte of it. */
export type McReply = { head: string; raw: Buffer }

const CR = 13
const LF = 10

/**
 * Incremental framer. A reply is one line, except VALUE... END (retrieval), STAT... END (stats) and
 * VA <size> (meta value) which carry their blocks. Bytes are appended into one growable buffer, so a
 * 1 MiB value arriving in 64 KiB pieces costs O(size).
 */
export class McReplyReader {
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024)
  private start = 0
  private end = 0
  private needUntil = 0
  private readonly replies: McReply[] = []

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

  /** The queued replies, left queued (for waiting on a condition over them). */
  peek(): readonly McReply[] {
    return this.replies
  }

  take(n: number): McReply[] {
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
      this.needUntil = Math.max(0, this.needUntil - this.start)
      this.start = 0
      this.end = live
    }
    chunk.copy(this.buf, this.end)
    this.end += chunk.length
  }

  private drain(): void {
    for (;;) {
      const next = this.parse(this.start)
      if (next < 0) break
      const raw = Buffer.from(this.buf.subarray(this.start, next))
      const eol = raw.indexOf('\r\n')
      this.replies.push({ head: raw.toString('latin1', 0, eol), raw })
      this.start = next
    }
    if (this.start === this.end) {
      this.start = 0
      this.end = 0
      this.needUntil = 0
    }
  }

  /** Offset of the CR of the line starting at `from`, or -1 when the line is not complete yet. */
  private lineEnd(from: number): number {
    for (let i = from; i + 1 < this.end; i++) {
      if (this.buf[i] === LF) throw new Error(`memcached reply: LF without CR at offset ${i}`)
      if (this.buf[i] === CR) {
        if (this.buf[i + 1] !== LF) throw new Error(`memcached reply: CR without LF at offset ${i}`)
        return i
      }
    }
    return -1
  }

  /** End offset of the reply starting at pos, or -1 when incomplete. */
  private parse(pos: number): number {
    if (pos >= this.end) return -1
    const eol = this.lineEnd(pos)
    if (eol < 0) return -1
    const line = this.buf.toString('latin1', pos, eol)
    if (line.startsWith('VALUE ') || line.startsWith('STAT ')) return this.parseBlockList(pos)
    if (line.startsWith('VA ')) {
      const size = Number(line.split(' ')[1])
      return this.dataAfter(eol + 2, size, line)
    }
    return eol + 2
  }

  /** VALUE items or STAT lines up to and including END. */
  private parseBlockList(pos: number): number {
    let at = pos
    for (;;) {
      const eol = this.lineEnd(at)
      if (eol < 0) return -1
      const line = this.buf.toString('latin1', at, eol)
      if (line === 'END') return eol + 2
      if (line.startsWith('VALUE ')) {
        const parts = line.split(' ')
        if (parts.length !== 4 && parts.length !== 5) throw new Error(`memcached reply: bad VALUE line ${JSON.stringify(line)}`)
        const next = this.dataAfter(eol + 2, Number(parts[3]), line)
        if (next < 0) return -1
        at = next
      } else if (line.startsWith('STAT ')) {
        at = eol + 2
      } else {
        throw new Error(`memcached reply: ${JSON.stringify(line.slice(0, 80))} inside a VALUE/STAT list`)
      }
    }
  }

  private dataAfter(dataStart: number, size: number, line: string): number {
    if (!Number.isInteger(size) || size < 0) throw new Error(`memcached reply: bad data length in ${JSON.stringify(line)}`)
    const next = dataStart + size + 2
    if (next > this.end) {
      this.needUntil = next
      return -1
    }
    if (this.buf[next - 2] !== CR || this.buf[next - 1] !== LF) {
      throw new Error(`memcached reply: data block of ${JSON.stringify(line)} not terminated by CRLF`)
    }
    return next
  }
}

/** Short printable form of a reply for messages: head, and the first bytes of any data. */
export function describeReply(r: McReply): string {
  const text = r.raw.toString('latin1').replace(/\r\n/g, '\\r\\n')
  return text.length > 160 ? `${text.slice(0, 157)}... (${r.raw.length} bytes)` : text
}
