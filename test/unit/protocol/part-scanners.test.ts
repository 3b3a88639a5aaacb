// RespPartScanner and MemcachePartScanner (streamed split replies): the units of a stream of replies, found whole and with the stream
// split at every byte (the backend's gather contract: an incomplete unit is presented again from its start with more bytes after it).
import t from 'tap';
import type { Test } from 'tap';
import { RespPartScanner } from '../../../src/protocol/resp/index.ts';
import { MemcachePartScanner } from '../../../src/protocol/memcache/index.ts';

type Scanner = { scan(buf: Uint8Array, pos: number, end: number): number; isUnit: boolean; last: boolean; isError: boolean; reset(): void };
type Unit = [string, string];

function kindOf(s: Scanner): string {
  return (s.isUnit ? 'U' : 'W') + (s.last ? 'L' : '') + (s.isError ? 'E' : '');
}

/** Units of `text` fed in chunks cut at `cuts`; '!' marks SCAN_ERROR (and stops). */
function units(s: Scanner, text: string, cuts: number[]): Unit[] {
  s.reset();
  const all = Buffer.from(text, 'latin1');
  const bounds = [0, ...cuts, all.length];
  const out: Unit[] = [];
  let pending = Buffer.alloc(0);
  for (let c = 0; c + 1 < bounds.length; c++) {
    const buf = Buffer.concat([pending, all.subarray(bounds[c], bounds[c + 1])]);
    let pos = 0;
    for (;;) {
      if (pos >= buf.length) {
        pending = Buffer.alloc(0);
        break;
      }
      const r = s.scan(buf, pos, buf.length);
      if (r < 0) return [...out, ['!', '']];
      if (r === 0) {
        pending = Buffer.from(buf.subarray(pos));
        break;
      }
      out.push([kindOf(s), buf.toString('latin1', pos, r)]);
      pos = r;
    }
  }
  return out;
}

function check(t: Test, name: string, make: () => Scanner, text: string, want: Unit[]): void {
  t.same(units(make(), text, []), want, `${name}: whole`);
  let bad = 0;
  for (let cut = 1; cut < text.length && bad < 3; cut++) {
    const got = units(make(), text, [cut]);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      bad++;
      t.same(got, want, `${name}: split at ${cut}`);
    }
  }
  t.equal(bad, 0, `${name}: split at every byte`);
  const bytes = units(make(), text, Array.from({ length: text.length - 1 }, (_, i) => i + 1));
  t.same(bytes, want, `${name}: one byte at a time`);
}

// Longer than a line or a small read, short enough to cut at every byte (the check is quadratic).
const big = 'v'.repeat(3_000);

t.test('RESP: an array is its header and each element; anything else is whole', async (t) => {
  const text = `*4\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n$2\r\nab\r\n$${big.length}\r\n${big}\r\n-ERR x\r\n*0\r\n*-1\r\n+OK\r\n*1\r\n_\r\n`;
  check(t, 'resp', () => new RespPartScanner(), text, [
    ['U', '*4\r\n'],
    ['U', '$1\r\na\r\n'],
    ['U', '$-1\r\n'],
    ['U', '*2\r\n:1\r\n$2\r\nab\r\n'],
    ['UL', `$${big.length}\r\n${big}\r\n`],
    ['WLE', '-ERR x\r\n'],
    ['WL', '*0\r\n'],
    ['WL', '*-1\r\n'],
    ['WL', '+OK\r\n'],
    ['U', '*1\r\n'],
    ['UL', '_\r\n'],
  ]);
  t.same(units(new RespPartScanner(), '*2\r\n$1\r\na\r\n$x\r\n', []), [['U', '*2\r\n'], ['U', '$1\r\na\r\n'], ['!', '']], 'a bad element is a protocol error');
});

t.test('memcached: each VALUE item is a unit; END and error lines end the reply', async (t) => {
  const text = `VALUE a 0 1\r\nx\r\nVALUE bb 5 ${big.length} 99\r\n${big}\r\nEND\r\nEND\r\nSERVER_ERROR out of memory\r\nVALUE c 0 2\r\nzz\r\nSERVER_ERROR boom\r\nERROR\r\nCLIENT_ERROR bad\r\n`;
  check(t, 'memcached', () => new MemcachePartScanner(), text, [
    ['U', 'VALUE a 0 1\r\nx\r\n'],
    ['U', `VALUE bb 5 ${big.length} 99\r\n${big}\r\n`],
    ['WL', 'END\r\n'],
    ['WL', 'END\r\n'],
    ['WLE', 'SERVER_ERROR out of memory\r\n'],
    ['U', 'VALUE c 0 2\r\nzz\r\n'],
    ['WLE', 'SERVER_ERROR boom\r\n'],
    ['WLE', 'ERROR\r\n'],
    ['WLE', 'CLIENT_ERROR bad\r\n'],
  ]);
  t.same(units(new MemcachePartScanner(), 'VALUE a 0 5\r\nab\r\nEND\r\n', []), [['!', '']], 'a value shorter than declared');
  t.same(units(new MemcachePartScanner(), 'STORED\r\n', []), [['!', '']], 'not a retrieval reply');
  t.same(units(new MemcachePartScanner({ maxLineBytes: 8192, maxValueBytes: 10 }), 'VALUE a 0 11\r\nabcdefghijk\r\n', []), [['!', '']], 'past the value limit');
});
