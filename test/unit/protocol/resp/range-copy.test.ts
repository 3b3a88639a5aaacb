// DYNOPROXY.RANGE codecs: requests parsed or refused with a message, replies round-trip (binary payloads included) and malformed
// replies are reported, never thrown. Pure.
import t from 'tap';
import { encodeRangeRequest, parseRangeRequest, encodeRangeReply, decodeRangeReply, isRangeCommand, rangeError } from '../../../../src/protocol/resp/index.ts';

t.test('requests', async (t) => {
  const req = encodeRangeRequest({ cursor: '0', count: 10, maxBytes: 1000, ranges: [0, 5, 10, 4294967295] });
  t.match(req.toString('latin1'), /^\*8\r\n\$15\r\nDYNOPROXY\.RANGE\r\n/);
  t.ok(isRangeCommand(Buffer.from('dynoproxy.range'), 0, 15), 'any case');
  t.notOk(isRangeCommand(Buffer.from('dynoproxy.rangex'), 0, 16));
  t.same(parseRangeRequest(['17', '10', '1000', '0', '5', '10', '4294967295']), { cursor: '17', count: 10, maxBytes: 1000, ranges: [0, 5, 10, 4294967295] });
  const refused: [string[], RegExp][] = [
    [['0', '10', '1000', '6', '5'], /invalid hash range/],
    [['0', '10', '1000', '0', '4294967296'], /invalid hash range/],
    [['0', '10', '1000', '-1', '5'], /invalid hash range/],
    [['0', '10', '1000', '0'], /wrong number/],
    [['0', '10', '1000'], /wrong number/],
    [['abc', '10', '1000', '0', '1'], /invalid cursor/],
    [['0', '100001', '1000', '0', '1'], /invalid count/],
    [['0', '10', '0', '0', '1'], /invalid max-bytes/],
  ];
  for (const [args, re] of refused) t.match(parseRangeRequest(args), re, args.join(' '));
  t.match(parseRangeRequest(['0', '1', '1', ...Array.from({ length: 2050 }, () => '1')]), /too many ranges/);
});

t.test('replies', async (t) => {
  const dump = Buffer.from([0, 1, 2, 13, 10, 255, 36, 42]);
  const reply = encodeRangeReply('123', 50, 7, [{ key: Buffer.from('k\r\n1'), pttl: -1, dump }, { key: Buffer.from('k2'), pttl: 5000, dump: Buffer.alloc(0) }]);
  const framed = Buffer.concat([Buffer.from('xx'), reply, Buffer.from('yy')]);
  t.same(decodeRangeReply(framed, 2, 2 + reply.length), { cursor: '123', dbsize: 50, scanned: 7, entries: [{ key: Buffer.from('k\r\n1'), pttl: -1, dump }, { key: Buffer.from('k2'), pttl: 5000, dump: Buffer.alloc(0) }] });
  const err = rangeError('bad\r\nthing');
  t.equal(decodeRangeReply(err, 0, err.length), 'ERR dynoproxy range: bad  thing');
  for (const bad of ['+OK\r\n', '*2\r\n$1\r\n0\r\n:1\r\n', '*3\r\n$1\r\n0\r\n:1\r\n', '*6\r\n$1\r\n0\r\n:1\r\n:1\r\n$9\r\nk\r\n', '']) {
    t.type(decodeRangeReply(Buffer.from(bad), 0, bad.length), 'string', JSON.stringify(bad));
  }
  t.type(decodeRangeReply(reply, 0, reply.length - 3), 'string', 'a truncated reply');
});
