// RESP writers: exact bytes, lengths that match what is written, and output the parser and scanner read back.
// Checked against hand-written RESP and against our own RespRequestParser / RespReplyScanner.
import t from 'tap';
import fc from 'fast-check';
import {
  writeArrayHeader,
  writeBulk,
  writeBulkHeader,
  writeBulkString,
  writeBytes,
  writeInteger,
  writeSimple,
  writeError,
  arrayHeaderLength,
  bulkLength,
  integerLength,
  simpleLength,
  decimalLength,
  RespRequestParser,
  RespReplyScanner,
  readIntegerReply,
} from '../../../../src/protocol/resp/index.ts';

t.test('exact bytes', async (t) => {
  const buf = Buffer.alloc(256, 0xee);
  let o = 0;
  o = writeArrayHeader(buf, o, 3);
  o = writeBulk(buf, o, Buffer.from('xxGETyy'), 2, 5);
  o = writeBulkString(buf, o, 'héllo');
  o = writeBulkHeader(buf, o, 2);
  o = writeBytes(buf, o, Buffer.from('ab\r\n'), 0, 4);
  t.equal(buf.subarray(0, o).toString('latin1'), '*3\r\n$3\r\nGET\r\n$6\r\nh\xc3\xa9llo\r\n$2\r\nab\r\n');
  t.equal(buf[o], 0xee, 'nothing written past the returned offset');
  const cases: [(b: Buffer, off: number) => number, string][] = [
    [(b, off) => writeInteger(b, off, 0), ':0\r\n'],
    [(b, off) => writeInteger(b, off, -12345), ':-12345\r\n'],
    [(b, off) => writeInteger(b, off, Number.MAX_SAFE_INTEGER), ':9007199254740991\r\n'],
    [(b, off) => writeInteger(b, off, 7.9), ':7\r\n'],
    [(b, off) => writeArrayHeader(b, off, -1), '*-1\r\n'],
    [(b, off) => writeArrayHeader(b, off, 0), '*0\r\n'],
    [(b, off) => writeSimple(b, off, 'OK'), '+OK\r\n'],
    [(b, off) => writeError(b, off, 'ERR bad\r\nthing'), '-ERR bad  thing\r\n'],
  ];
  for (const [write, want] of cases) {
    const b = Buffer.alloc(64);
    const end = write(b, 10);
    t.equal(b.subarray(10, end).toString('latin1'), want);
  }
});

t.test('length helpers equal the bytes written', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: -1e15, max: 1e15 }), fc.nat({ max: 100000 }), fc.string(), (n, len, s) => {
      const b = Buffer.alloc(200_200);
      const text = s.replace(/[\r\n]/g, ' ');
      if (writeInteger(b, 0, n) !== integerLength(n)) return false;
      if (writeArrayHeader(b, 0, n) !== arrayHeaderLength(n)) return false;
      if (writeBulk(b, 0, Buffer.alloc(len), 0, len) !== bulkLength(len)) return false;
      if (writeSimple(b, 0, text) !== simpleLength(text)) return false;
      if (writeError(b, 0, text) !== simpleLength(text)) return false;
      return decimalLength(Math.abs(n)) === String(Math.abs(n)).length;
    }),
    { numRuns: 300 },
  );
  t.pass('held');
});

t.test('a request rebuilt with the writers parses back to the same arguments', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 20 }), (args) => {
      let size = arrayHeaderLength(args.length);
      for (const a of args) size += bulkLength(a.length);
      const buf = Buffer.alloc(size);
      let o = writeArrayHeader(buf, 0, args.length);
      for (const a of args) o = writeBulk(buf, o, a, 0, a.length);
      if (o !== size) return false;
      const p = new RespRequestParser();
      if (p.parse(buf, 0, size) !== size || p.argc !== args.length) return false;
      return args.every((a, i) => Buffer.compare(Buffer.from(a), buf.subarray(p.argOff[i], p.argOff[i] + p.argLen[i])) === 0);
    }),
    { numRuns: 300 },
  );
  t.pass('held');
});

t.test('a merged reply written with the writers scans as one reply', async (t) => {
  const buf = Buffer.alloc(100);
  let o = writeArrayHeader(buf, 0, 3);
  o = writeInteger(buf, o, 42);
  o = writeSimple(buf, o, 'OK');
  o = writeBulkString(buf, o, 'v');
  const s = new RespReplyScanner();
  t.equal(s.scan(buf, 0, o), o);
  t.equal(readIntegerReply(buf, 4, o), 42);
});
