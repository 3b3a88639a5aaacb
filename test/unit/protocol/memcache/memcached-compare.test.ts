// Differential test: what our parser decides about each input against what a real memcached 1.6 does with it.
// Every frame we accept must get a well-formed, non-error reply of its kind (scanned by our reply scanner), every
// error we report must be memcached's exact line (or silence), and every close must be memcached's close.
import t from 'tap';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import {
  MemcacheRequestParser, MemcacheReplyScanner, PARSE_ERROR, CMD_INVALID, CMD_QUIT, CMD_STATS, CMD_MN, replyKindFor,
  commandName,
} from '../../../../src/protocol/memcache/index.ts';
import { ChildProcessHandle } from '../../../helpers/child-process-handle.ts';
import { freePort } from '../../../helpers/free-port.ts';
import { waitFor, waitForPort } from '../../../helpers/wait-for.ts';

type Event =
  | { type: 'frame'; cmd: number; optional: boolean }
  | { type: 'error'; message: string; silent: boolean }
  | { type: 'close' };

interface Case {
  name: string;
  input: string | Buffer;
  /** Deliver the first splitAt bytes, wait for memcached to close (or not), then the rest. */
  splitAt?: number;
}

const SENTINEL = 'mn\r\n';
const k251 = 'k'.repeat(251);
const big = 'v'.repeat(600_000);

const cases: Case[] = [
  // Valid requests: each must get a non-error reply of its kind.
  { name: 'storage', input: 'set a 0 0 1\r\n1\r\nadd a 0 0 1\r\n2\r\nreplace a 5 0 1\r\n3\r\nappend a 0 0 1\r\n4\r\nprepend a 0 0 1\r\n5\r\ncas a 0 0 1 1\r\n6\r\n' },
  { name: 'retrieval', input: 'set b 3 0 5\r\nhello\r\nset c 0 0 0\r\n\r\nget b\r\nget b c missing b\r\ngets b c\r\ngat 100 b c\r\ngats 0 b\r\ngat 10\r\nbget b\r\n' },
  { name: 'a big chunked value', input: `set big 0 0 ${big.length}\r\n${big}\r\nget big b big\r\nmg big v s\r\n` },
  { name: 'numbers the way strtol reads them', input: 'set n1 +1 -0 01\r\nx\r\nset n2 0 0 4294967297\r\nx\r\nset n3 18446744073709551615 0 1\r\nx\r\nset n4 1\tz 0 1\r\nx\r\nset n5 -9223372036854775809 0 1\r\nx\r\nset n6 0 99999999999 1\r\nx\r\n' },
  { name: 'keys with control bytes', input: 'set a\tb\x01 0 0 1\r\nx\r\nget a\tb\x01 zz\x7f\r\nget k\r\r\nget a b\0c d\r\n' },
  { name: 'delete, incr, decr, touch', input: 'set d 0 0 2\r\n10\r\nincr d 5\r\ndecr d 100\r\nincr d 1 x\r\ntouch d 10\r\ntouch d 1 x\r\ndelete d\r\ndelete d 0\r\ndelete d noreply\r\ndelete d 0 noreply\r\n' },
  { name: 'noreply everywhere', input: 'set e 0 0 1 noreply\r\nx\r\nincr nokey 1 noreply\r\ntouch e 1 noreply\r\nverbosity 0 noreply\r\nflush_all 0 noreply\r\nget e\r\n' },
  { name: 'version, verbosity, flush_all, stats', input: 'version\r\nversion x y\r\nverbosity 0\r\nflush_all\r\nflush_all 0\r\nflush_all 0 0\r\nstats\r\nstats settings\r\nstats items\r\nstats slabs\r\nstats reset\r\nstats detail on\r\nstats detail dump\r\nstats nosuch\r\n' },
  { name: 'meta get/set/delete/arithmetic', input: 'ms f 3 T0 F5 c k O1\r\nabc\r\nmg f v f t s c k O2\r\nmg f\r\nmg nokey v O3 k\r\nma ctr N0 J5 v\r\nma ctr MD D2 v c t k O4\r\nmd f O5 k\r\nmd f\r\nme ctr\r\nme nokey\r\nmn extra\r\n' },
  { name: 'meta base64 keys', input: 'ms aw== 1 b\r\nx\r\nmg aw== b k v\r\nmg k v\r\nme aw== b\r\nmg ab== b\r\nmd aw== b q\r\n' },
  { name: 'meta quiet mode', input: 'ms q1 1 q\r\nx\r\nmg q1 v q\r\nmg nokey v q\r\nmd q1 q\r\nma nokey q\r\nget q1\r\n' },
  { name: 'a long get line', input: 'get ' + 'ab '.repeat(1000) + '\r\n', splitAt: 2049 },
  { name: 'a long gets line after 100 spaces', input: ' '.repeat(100) + 'gets ' + 'x '.repeat(1500) + '\r\n', splitAt: 2049 },
  // Requests memcached answers with an error and reads on after.
  { name: 'empty lines and unknown commands', input: '\r\n\nx\r\nfoo bar\r\nSET k 0 0 1\r\nsfoo HTTP/1.1\r\nmz\r\nmisbehave\r\n\x80get a\r\n' },
  { name: 'get family errors', input: 'get\r\ngets  \r\nbget\r\nget\tk\r\ngat x k\r\ngat 1x k\r\n' },
  // First in its case: memcached drops the unsent replies of earlier requests when it refuses a multi-get.
  { name: 'get with a key too long', input: `get a ${k251} b\r\nget\r\n` },
  { name: 'storage line errors', input: 'set k 0 0\r\nab\r\nset k 0 0 1 2 noreply\r\nset k x 0 3\r\nabc\r\nset k x 0 3 noreply\r\nabc\r\nset k -1 0 1\r\nset k 18446744073709551616 0 1\r\nx\r\n' },
  { name: 'storage length errors', input: 'set k 0 0 1z\r\nset k 0 0 -1\r\nset k 0 0 2147483646\r\nset k 0 0 2147483648\r\nset k 0 99999999999999999999 1\r\n' + `set ${k251} 0 0 1\r\nx\r\ncas k 0 0 1\r\ncas k 0 0 1 x\r\nx\r\n` },
  { name: 'bad data chunks', input: 'set k 0 0 3\r\nabcde\r\nset k 0 0 3 noreply\r\nabcde\r\nset k 0 0 1\r\nx\n\r\nms k 2 q\r\nabc\r\n' },
  { name: 'too large, swallowed', input: 'set k 0 0 2000000\r\n' + 'v'.repeat(2_000_000) + '\r\nget k\r\nset k 0 0 2000000 noreply\r\n' + 'w'.repeat(2_000_000) + '\r\nms k 2000000 T0\r\n' + 'x'.repeat(2_000_000) + '\r\n' },
  { name: 'delete errors', input: `delete\r\ndelete k 1\r\ndelete k 0 x\r\ndelete k x noreply\r\ndelete a b c d\r\ndelete ${k251}\r\n` },
  { name: 'arithmetic, touch, verbosity, flush_all errors', input: 'incr k\r\nincr k x\r\nincr k -1\r\ndecr k x noreply\r\nincr k 1 2 3\r\ntouch k\r\ntouch k x\r\nverbosity\r\nverbosity x\r\nverbosity noreply\r\nverbosity 1 2 3\r\nflush_all x\r\nflush_all x noreply\r\nflush_all noreply x\r\nflush_all 0 0 0\r\n' },
  { name: 'meta arity and flag errors', input: 'mg\r\nms\r\nmd\r\nma\r\nme\r\nms k\r\nmg k Z\r\nmg k T\r\nmg k Tx\r\nmg k q q\r\nmg k \x80\r\nmg k M\r\nmg k MSS\r\nmg k Fx\r\nmg k Jx\r\nmg k Dx\r\nmg k Cx\r\nmg k Tx Z\r\nmg k Tx Dx\r\nmg k Tx q q\r\n' },
  { name: 'meta errors of md, ma, me and limits', input: `md k Z\r\nma k Dx\r\nma k MZ\r\nmg ${k251} v\r\nmg k a b c d e f g h i j k l m n o p q r\r\nmd k a b c d e f g h i j k l m n o p q r\r\nmg k O${'1'.repeat(32)}\r\nmd k O${'1'.repeat(31)}\r\nmg a= b\r\nmg a=== b\r\nmg k v k b\r\nme k b\r\nme ${k251}\r\n` },
  { name: 'ms errors: data read as commands, or swallowed', input: `ms k x\r\nab\r\nms k -1\r\nab\r\nms k 2 Z\r\nab\r\nms k 2 q q\r\nab\r\nms k 2 MZ\r\nab\r\nms k 2 b\r\nab\r\nms k 2 O${'1'.repeat(32)}\r\nab\r\n` },
  // Closes.
  { name: 'HTTP request', input: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' },
  { name: 'HTTP after good requests', input: 'set h 0 0 1\r\nx\r\nget h\r\nfoo HTTP/1.0\r\n' },
  { name: 'quit', input: 'get a\r\nquit\r\nget b\r\n' },
  { name: 'a line past 2048 bytes without newline', input: 'x'.repeat(2049), splitAt: 2049 },
  { name: 'a long non-get line arriving in pieces', input: 'x'.repeat(3000) + '\r\n', splitAt: 2049 },
  { name: 'a long gat line arriving in pieces', input: 'gat 0 ' + 'a '.repeat(1100) + '\r\n', splitAt: 2049 },
  { name: 'more than 100 spaces before a long get', input: ' '.repeat(101) + 'get ' + 'a '.repeat(1100) + '\r\n', splitAt: 2049 },
];

/** What our parser says about the whole input: one event per frame, or a close. */
function expectations(input: Buffer): { events: Event[]; mnCount: number; closes: boolean } {
  const p = new MemcacheRequestParser();
  const events: Event[] = [];
  let mnCount = 0;
  let pos = 0;
  while (pos < input.length) {
    const r = p.parse(input, pos, input.length);
    if (r === PARSE_ERROR) {
      events.push({ type: 'close' });
      break;
    }
    if (r <= 0) throw new Error(`input ends inside a frame (${p.swallowing} bytes still to discard)`);
    if (p.cmd === CMD_INVALID) events.push({ type: 'error', message: p.errorMessage, silent: p.noreply });
    else {
      events.push({ type: 'frame', cmd: p.cmd, optional: p.noreply || p.quiet });
      if (p.cmd === CMD_MN) mnCount++;
      if (p.cmd === CMD_QUIT) break;
    }
    pos = r;
  }
  const last = events[events.length - 1];
  const closes = last !== undefined && (last.type === 'close' || (last.type === 'frame' && last.cmd === CMD_QUIT));
  return { events, mnCount, closes };
}

/** Matches memcached's output against our events: '' when they agree, else what differs. */
function mismatch(events: Event[], out: Buffer, closed: boolean): string {
  const s = new MemcacheReplyScanner();
  let pos = 0;
  const at = (): string => JSON.stringify(out.subarray(pos, pos + 80).toString('latin1'));
  for (const [i, ev] of events.entries()) {
    if (ev.type === 'close' || (ev.type === 'frame' && ev.cmd === CMD_QUIT)) {
      if (!closed) return `event ${i}: we close, memcached kept the connection`;
      return pos === out.length ? '' : `event ${i}: memcached wrote ${at()} before closing`;
    }
    if (ev.type === 'error') {
      if (ev.silent) continue;
      const want = ev.message + '\r\n';
      if (out.subarray(pos, pos + want.length).toString('latin1') !== want) return `event ${i}: we say ${JSON.stringify(ev.message)}, memcached ${at()}`;
      pos += want.length;
      continue;
    }
    const r = s.scan(out, pos, out.length, replyKindFor(ev.cmd));
    const ok = r > 0 && (!s.isError || ev.cmd === CMD_STATS);
    if (!ok) {
      s.reset();
      if (ev.optional) continue;
      return `event ${i}: ${commandName(ev.cmd)} accepted by us, memcached answered ${at()}`;
    }
    pos = r;
  }
  if (pos !== out.length) return `memcached wrote more: ${at()}`;
  return closed ? 'memcached closed the connection' : '';
}

interface Conversation {
  out: Buffer;
  closed: boolean;
}

/** Sends input and collects memcached's output until it closes (closes) or has sent mnCount MN lines. */
async function converse(port: number, input: Buffer, splitAt: number | undefined, mnCount: number, closes = false): Promise<Conversation> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  let size = 0;
  let closed = false;
  sock.on('data', (d: Buffer) => {
    chunks.push(d);
    size += d.length;
  });
  sock.on('close', () => {
    closed = true;
  });
  sock.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const countMn = (): number => Buffer.concat(chunks, size).toString('latin1').split('MN\r\n').length - 1;
  try {
    if (splitAt !== undefined && splitAt < input.length) {
      sock.write(input.subarray(0, splitAt));
      // Let memcached see the first part alone; it either closes at once or waits for the newline.
      await waitFor(() => closed, 300, 'close').catch(() => undefined);
      if (!closed) sock.write(input.subarray(splitAt));
    } else sock.write(input);
    await waitFor(() => closed || (!closes && countMn() >= mnCount), 10_000, 'memcached to answer').catch(() => undefined);
  } finally {
    sock.destroy();
  }
  return { out: Buffer.concat(chunks, size), closed };
}

const available = spawnSync('memcached', ['-V']).status === 0;

t.test('our parser against memcached', { skip: available ? false : 'memcached is not installed' }, async (t) => {
  const port = await freePort();
  const server = new ChildProcessHandle(`memcached:${port}`, 'memcached', ['-u', 'root', '-p', String(port), '-l', '127.0.0.1', '-U', '0', '-t', '1', '-m', '64']);
  t.teardown(() => server.stop());
  await waitForPort(port, 5000);

  for (const c of cases) {
    const input = Buffer.concat([typeof c.input === 'string' ? Buffer.from(c.input, 'latin1') : c.input, Buffer.from(SENTINEL)]);
    const { events, mnCount, closes } = expectations(input);
    const conv = await converse(port, input, c.splitAt, mnCount, closes);
    t.equal(mismatch(events, conv.out, conv.closed), '', c.name);
  }

  t.test('deliberate differences', async (t) => {
    // A 1 MiB value: within our limit (the datastore decides), too large for memcached's item with its header.
    const exact = Buffer.from(`set k 0 0 1048576\r\n${'v'.repeat(1048576)}\r\n${SENTINEL}`, 'latin1');
    const ours = expectations(exact);
    t.same(ours.events[0], { type: 'frame', cmd: 5, optional: false }, 'we forward it');
    const mc = await converse(port, exact, undefined, 1);
    t.equal(mc.out.toString('latin1'), 'SERVER_ERROR object too large for cache\r\nMN\r\n', 'memcached refuses it and reads on');
    // A binary-protocol first byte: memcached switches that connection to the binary protocol; we close.
    const bin = Buffer.from([0x80, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    t.same(expectations(bin).events, [{ type: 'close' }], 'we close');
    const binConv = await converse(port, bin, undefined, 1);
    t.equal(binConv.out[0], 0x81, 'memcached answers in binary (a version response)');
    // A line past 2048 bytes that arrives whole: memcached reads it; we refuse it as if it came in pieces.
    const whole = Buffer.from('x'.repeat(3000) + '\r\n' + SENTINEL, 'latin1');
    t.same(expectations(whole).events, [{ type: 'close' }], 'we close');
    const wholeConv = await converse(port, whole, undefined, 1);
    t.equal(wholeConv.out.toString('latin1'), 'ERROR\r\nMN\r\n', 'memcached answers ERROR when the line came in one read');
    // A multi-get refused for a long key: memcached also drops the not yet sent replies of the requests before it.
    const culled = Buffer.from(`get\r\nget a ${k251} b\r\n${SENTINEL}`, 'latin1');
    t.same(expectations(culled).events.slice(0, 2), [
      { type: 'error', message: 'ERROR', silent: false },
      { type: 'error', message: 'CLIENT_ERROR bad command line format', silent: false },
    ], 'we answer both');
    const culledConv = await converse(port, culled, undefined, 1);
    t.equal(culledConv.out.toString('latin1'), 'CLIENT_ERROR bad command line format\r\nMN\r\n', 'memcached loses the first reply');
  });
});
