// Reads the kernel's TCP table (/proc/net/tcp) to see bytes waiting unread on a loopback port's connections.
// It must never be used as a sleep substitute by guessing: it reports what the kernel holds, nothing more.

import { readFileSync } from 'node:fs'

const ESTABLISHED = '01'

/**
 * Total bytes queued for reading (rx_queue) on established IPv4 connections whose local end is 127.0.0.1:port.
 * Lets a test know a request reached a stopped (SIGSTOP) server's socket without waiting blindly.
 */
export function unreadBytesOnPort(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  let total = 0
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 5 || fields[1] !== local || fields[3] !== ESTABLISHED) continue
    const rx = fields[4]!.split(':')[1]
    if (rx !== undefined) total += parseInt(rx, 16)
  }
  return total
}
