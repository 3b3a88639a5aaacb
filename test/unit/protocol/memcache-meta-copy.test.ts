// memcached warm-up codecs: metadump keys (escaped) listed, pipelined mg / ms replies framed only when whole, their items and results
// read; a range reply wrapped as one memcached value round-trips, errors become SERVER_ERROR lines. Pure.
import t from 'tap';
import { parseMetadump, percentDecode, encodeMetaGets, parseMetaGets, encodeMetaAdds, parseMetaSets, encodeMetaDeletes } from '../../../src/protocol/memcache/index.ts';
import {
  encodeRangeReply, rangeError, encodeMemcacheRangeRequest, isMemcacheRangeCommand, memcacheRangeArgs, wrapMemcacheRangeReply, unwrapMemcacheRangeReply,
  parseRangeRequest, memcacheRangeCommand, MC_RANGE, MC_PURGE, wrapMemcacheResp, unwrapMemcacheResp, HELLO_REPLY, isHelloReply,
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

t.test('dynoproxy_purge, meta deletes', async (t) => {
  const range = encodeMemcacheRangeRequest({ cursor: '0', count: 5, maxBytes: 1, ranges: [0, 9] });
  const purge = encodeMemcacheRangeRequest({ cursor: '0', count: 5, maxBytes: 1, ranges: [0, 9] }, true);
  t.equal(purge.toString(), 'dynoproxy_purge 0 5 1 0 9\r\n');
  t.equal(memcacheRangeCommand(range, 0, range.length), MC_RANGE);
  t.equal(memcacheRangeCommand(purge, 0, purge.length), MC_PURGE);
  t.notOk(isMemcacheRangeCommand(purge, 0, purge.length), 'a purge is not a range copy');
  for (const other of ['dynoproxy_rangX 0 1 1 0 9\r\n', 'dynoproxy_\r\n', 'get dynoproxy_purge\r\n', 'dynoproxy_purgerange 0\r\n']) {
    const b = Buffer.from(other);
    t.equal(memcacheRangeCommand(b, 0, b.length), 0, JSON.stringify(other));
  }
  t.same(parseRangeRequest(memcacheRangeArgs(purge, 0, purge.length)), { cursor: '0', count: 5, maxBytes: 1, ranges: [0, 9] });
  t.equal(encodeMetaDeletes([Buffer.from('k1'), Buffer.from([0])]).toString(), 'md azE= b\r\nmd AA== b\r\n');
  t.same(parseMetaSets(Buffer.from('HD\r\nNF\r\n'), 2)?.results, [1, 'NF']);
});

t.test('membership replies wrapped for a memcached peer link', async (t) => {
  const w = wrapMemcacheResp(HELLO_REPLY);
  t.equal(w.toString('latin1'), `VALUE dynoproxy_resp 0 ${HELLO_REPLY.length}\r\n${HELLO_REPLY.toString('latin1')}\r\nEND\r\n`);
  const inner = unwrapMemcacheResp(w, 0, w.length);
  t.ok(inner !== null && isHelloReply(w, inner[0], inner[1]));
  const framed = Buffer.concat([Buffer.from('xx'), w, Buffer.from('yy')]);
  t.same(unwrapMemcacheResp(framed, 2, 2 + w.length), [2 + inner![0], 2 + inner![1]], 'at an offset');
  t.equal(unwrapMemcacheResp(w, 0, w.length - 1), null, 'cut');
  for (const other of ['END\r\n', 'SERVER_ERROR x\r\n', 'VALUE dynoproxy_resp 0 x\r\n\r\nEND\r\n', 'VALUE dynoproxy_resp 0 99999999999\r\nab\r\nEND\r\n']) {
    const b = Buffer.from(other);
    t.equal(unwrapMemcacheResp(b, 0, b.length), null, JSON.stringify(other));
  }
});
