// OutBuffer: ranges of a registered read buffer are appended by reference and copied at settleDeferred();
// the bytes written keep append order whatever mix of deferred and copied appends, reserve() and drop() came first.
// Uses a real loopback socket pair for flush(); the read buffer is overwritten after each settle, as the next read would.
import t from 'tap';
import net from 'node:net';
import { OutBuffer, registerReadBuffer, settleDeferred } from '../../../src/io/out-buffer.ts';

const READ = Buffer.alloc(4096);
registerReadBuffer(READ);

/** Put `text` into the read buffer at `at` (as a socket read would) and return its range. */
function read(text: string, at: number): [number, number] {
  const n = READ.write(text, at, 'latin1');
  return [at, at + n];
}

/** The staged bytes, as flush() would write them (without a socket). */
function staged(o: OutBuffer): string {
  o.settle();
  return o.buf === null ? '' : o.buf.subarray(0, o.len).toString('latin1');
}

t.test('contiguous ranges merge and are copied before the read buffer is reused', async (t) => {
  const o = new OutBuffer();
  const a = read('GET a\r\n', 0);
  const b = read('GET bb\r\n', a[1]);
  o.append(READ, a[0], a[1]);
  o.append(READ, b[0], b[1]);
  t.equal(o.len, 0, 'nothing copied yet');
  t.equal(o.size, 15, 'size counts the deferred range');
  settleDeferred();
  READ.fill(0x58, 0, 64);
  t.equal(staged(o), 'GET a\r\nGET bb\r\n', 'bytes survive the read buffer being overwritten');
  o.drop();
});

t.test('deferred and copied appends keep their order', async (t) => {
  const o = new OutBuffer();
  const other = Buffer.from('+OTHER\r\n');
  const a = read('one', 100);
  const gap = read('two', 200);
  o.append(READ, a[0], a[1]);
  o.append(other, 0, other.length);
  o.append(READ, gap[0], gap[1]);
  const hdr = o.reserve(3);
  hdr.write('HDR', o.len, 'latin1');
  o.len += 3;
  const c = read('three', 300);
  o.append(READ, c[0], c[1]);
  settleDeferred();
  READ.fill(0x58, 0, 400);
  t.equal(staged(o), 'one+OTHER\r\ntwoHDRthree');
  o.drop();
});

t.test('several buffers defer from one read; a non-adjacent range settles the previous one', async (t) => {
  const x = new OutBuffer();
  const y = new OutBuffer();
  const r1 = read('$1\r\na\r\n', 0);
  const r2 = read('$1\r\nb\r\n', r1[1]);
  const r3 = read('$1\r\nc\r\n', r2[1]);
  x.append(READ, r1[0], r1[1]);
  y.append(READ, r2[0], r2[1]);
  x.append(READ, r3[0], r3[1]);
  settleDeferred();
  READ.fill(0, 0, 64);
  t.equal(staged(x), '$1\r\na\r\n$1\r\nc\r\n');
  t.equal(staged(y), '$1\r\nb\r\n');
  x.drop();
  y.drop();
});

t.test('drop() forgets a deferred range', async (t) => {
  const o = new OutBuffer();
  const r = read('gone', 0);
  o.append(READ, r[0], r[1]);
  o.drop();
  settleDeferred();
  t.equal(o.size, 0);
  t.equal(staged(o), '');
});

t.test('ranges larger than a staging chunk', async (t) => {
  const o = new OutBuffer();
  const big = Buffer.alloc(40_000, 0x61);
  const BIG_READ = Buffer.alloc(64 * 1024);
  registerReadBuffer(BIG_READ);
  big.copy(BIG_READ, 0);
  o.append(BIG_READ, 0, 20_000);
  o.append(BIG_READ, 20_000, 40_000);
  settleDeferred();
  BIG_READ.fill(0);
  const s = staged(o);
  t.equal(s.length, 40_000);
  t.ok(/^a+$/.test(s), 'every byte kept');
  o.drop();
});

t.test('flush() writes the deferred bytes to a real socket', async (t) => {
  const got: Buffer[] = [];
  let ended!: () => void;
  const done = new Promise<void>((r) => (ended = r));
  const server = net.createServer((s) => s.on('data', (d) => got.push(d)).on('end', () => ended()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const o = new OutBuffer();
  const a = read('*1\r\n$4\r\nPING\r\n', 0);
  o.append(READ, a[0], a[1]);
  o.flush(sock, true);
  READ.fill(0, 0, 64);
  sock.end();
  await done;
  server.close();
  t.equal(Buffer.concat(got).toString('latin1'), '*1\r\n$4\r\nPING\r\n');
});
