// Makes an accepted server socket read into one reusable per-worker buffer (net.Socket's `onread`, which net.Server does not offer).
// Never applied when Node's internals differ from what it expects: the socket then keeps ordinary 'data' events.
import type { Socket } from 'node:net';

type ReadCallback = (this: Socket, nread: number, buf: Buffer) => boolean | void;

interface StreamHandle {
  useUserBuffer?: (buf: Uint8Array) => void;
}

let symbols: { kBuffer: symbol; kBufferCb: symbol } | null | undefined;

function findSymbols(sock: Socket): { kBuffer: symbol; kBufferCb: symbol } | null {
  const own = Object.getOwnPropertySymbols(sock);
  const kBuffer = own.find((s) => s.description === 'kBuffer');
  const kBufferCb = own.find((s) => s.description === 'kBufferCb');
  if (kBuffer === undefined || kBufferCb === undefined) return null;
  return { kBuffer, kBufferCb };
}

/**
 * Switch a paused, freshly accepted socket to reading into `buf`; `cb` runs with the socket as `this`
 * and must consume the bytes before returning. Returns false (and changes nothing) when unsupported.
 */
export function useStaticReadBuffer(sock: Socket, buf: Buffer, cb: ReadCallback): boolean {
  if (process.env.DYNOPROXY_NO_STATIC_READ === '1') return false;
  if (symbols === undefined) symbols = findSymbols(sock);
  if (symbols === null) return false;
  const handle = (sock as unknown as { _handle: StreamHandle | null })._handle;
  if (handle === null || typeof handle.useUserBuffer !== 'function') return false;
  const rec = sock as unknown as Record<symbol, unknown>;
  if (rec[symbols.kBuffer] !== null) return false;
  handle.useUserBuffer(buf);
  rec[symbols.kBuffer] = buf;
  rec[symbols.kBufferCb] = cb;
  return true;
}
