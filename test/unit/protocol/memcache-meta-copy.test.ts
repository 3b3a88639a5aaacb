// memcached warm-up codecs: metadump keys (escaped) listed, pipelined mg / ms replies framed only when whole, their items and results
// read; a range reply wrapped as one memcached value round-trips, errors become SERVER_ERROR lines. Pure.
import t from 'tap';
import { parseMetadump, percentDecode, encodeMetaGets, parseMetaGets, encodeMetaAdds, parseMetaSets } from '../../../src/protocol/memcache/index.ts';
import {
  encodeRangeReply, rangeError, encodeMemcacheRangeRequest, isMemcacheRangeCommand, memcacheRangeArgs, wrapMemcacheRangeReply, unwrapMemcacheRangeReply,
  parseRangeRequest,
} from '../../../src/protocol/resp/index.ts';

t.test('metadump', async (t) => {
  const dump = Buffer.from('key=a exp=-1 la=1 cas=1 fetch=no cls=1 size=65\nkey=b%20c%FF exp=1800000000 la=1\nEND\r\n');
  t.same(parseMetadump(dump), [Buffer.from('a'), Buffer.from([0x62, 0x20, 0x63, 0xff])]);
  t.same(percentDecode('x%2'), Buffer.from('x%2'), 'a cut escape is kept as it is');
});

t.test('meta gets and sets', async (t) => {
  const keys = [Buffer.from('k1'), Buffer.from([0, 1])];
  t.equal(encodeMetaGets(keys).toString(), 'mg azE= b v f t\r\nmg AAE= b v f t\r\n');
  const reply = Buffer.from('VA 3 f7 t120\r\nabc\r\nEN\r\n');
  for (let cut = 0; cut < reply.length; cut++) t.equal(parseMetaGets(reply.subarray(0, cut), 2, keys), null, `incomplete at ${cut}`);
  t.same(parseMetaGets(reply, 2, keys), { items: [{ key: keys[0], ttl: 120, flags: 7, value: Buffer.from('abc') }, null], end: reply.length });
  t.same(parseMetaGets(Buffer.from('CLIENT_ERROR bad\r\n'), 1, keys)?.items, ['CLIENT_ERROR bad']);
  const adds = encodeMetaAdds([{ key: Buffer.from('k'), ttl: -1, flags: 3, value: Buffer.from('vv') }, { key: Buffer.from('j'), ttl: 60, flags: 0, value: Buffer.alloc(0) }]);
  t.equal(adds.toString(), 'ms aw== 2 b T0 F3 ME\r\nvv\r\nms ag== 0 b T60 F0 ME\r\n\r\n');
  t.equal(parseMetaSets(Buffer.from('HD\r\n'), 2), null);
  t.same(parseMetaSets(Buffer.from('HD\r\nNS\r\nSERVER_ERROR out of memory\r\n'), 3), { results: [1, 0, 'SERVER_ERROR out of memory'], end: 36 });
});

t.test('dynoproxy_range on a memcached peer port', async (t) => {
  const req = encodeMemcacheRangeRequest({ cursor: '3-50', count: 25, maxBytes: 1000, ranges: [0, 9, 20, 4294967295] });
  t.ok(isMemcacheRangeCommand(req, 0, req.length));
  t.notOk(isMemcacheRangeCommand(Buffer.from('get dynoproxy_range\r\n'), 0, 21));
  t.same(parseRangeRequest(memcacheRangeArgs(req, 0, req.length)), { cursor: '3-50', count: 25, maxBytes: 1000, ranges: [0, 9, 20, 4294967295] });
  const inner = encodeRangeReply('0', 10, 4, [{ key: Buffer.from('k'), pttl: -1, dump: Buffer.from([0, 0, 0, 5, 0x0d, 0x0a]) }]);
  const wrapped = wrapMemcacheRangeReply(inner);
  t.match(wrapped.toString('latin1'), /^VALUE dynoproxy_range 0 \d+\r\n[\s\S]*\r\nEND\r\n$/);
  t.same(unwrapMemcacheRangeReply(wrapped, 0, wrapped.length), { cursor: '0', dbsize: 10, scanned: 4, entries: [{ key: Buffer.from('k'), pttl: -1, dump: Buffer.from([0, 0, 0, 5, 0x0d, 0x0a]) }] });
  const err = wrapMemcacheRangeReply(rangeError('bad\r\nthing'));
  t.equal(err.toString(), 'SERVER_ERROR dynoproxy range: bad  thing\r\n');
  t.equal(unwrapMemcacheRangeReply(err, 0, err.length), 'dynoproxy range: bad  thing');
  t.equal(unwrapMemcacheRangeReply(wrapped, 0, wrapped.length - 20), 'truncated reply');
});
