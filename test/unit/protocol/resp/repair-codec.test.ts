// DYNOPROXY.REPAIR codecs: requests round-trip or are refused with a message (binary keys and payloads survive), replies decode,
// malformed replies are reported, never thrown; the bucket arithmetic covers the layout evenly. Pure.
import t from 'tap';
import {
  encodeRepairRequest, parseRepairRequest, isRepairCommand, encodeDigestReply, encodeKeysReply, encodeFetchReply, encodePutReply, decodeFlatArray,
  decodeDigestReply, decodeKeysReply, decodeFetchReply, bucketOf, rangeOffset, sameExpiry, ttlBucket, repairError, type RepairRequest,
} from '../../../../src/protocol/resp/index.ts';
import { RespRequestParser } from '../../../../src/protocol/resp/index.ts';

/** The request's arguments after the command name, as the peer server hands them over (latin1 strings). */
function argsOf(req: Buffer): string[] {
  const q = new RespRequestParser();
  t.equal(q.parse(req, 0, req.length), req.length, 'one whole request');
  t.ok(isRepairCommand(q.argBuf, q.argOff[0], q.argLen[0]), 'named DYNOPROXY.REPAIR');
  return Array.from({ length: q.argc - 1 }, (_, i) => Buffer.from(q.argBuf.subarray(q.argOff[i + 1], q.argOff[i + 1] + q.argLen[i + 1])).toString('latin1'));
}

t.test('requests round-trip', async (t) => {
  const bin = Buffer.from([0, 1, 0xff, 13, 10, 0x80]);
  const reqs: RepairRequest[] = [
    { op: 'digest', job: 'r1-0-2', buckets: 64, layout: [0, 100, 200, 4294967295], ranges: [50, 100] },
    { op: 'keys', job: 'j', buckets: [0, 5, 63] },
    { op: 'rows', job: 'j', buckets: [1] },
    { op: 'fetch', maxBytes: 1000, keys: [bin, Buffer.from('k')] },
    { op: 'put', puts: [{ key: bin, expected: '-', pttl: 0, payload: bin }, { key: Buffer.from('x'), expected: 'a'.repeat(40), pttl: 5000, payload: Buffer.alloc(0) }] },
  ];
  t.equal(reqs.length, 5);
  for (const r of reqs) t.same(parseRepairRequest(argsOf(encodeRepairRequest(r))), r, r.op);
  t.ok(isRepairCommand(Buffer.from('dynoproxy.repair'), 0, 16), 'any case');
});

t.test('bad requests are refused with a message', async (t) => {
  const refused: [string[], RegExp][] = [
    [['DIGEST', 'j', '64', '1', '5', '4', '5', '4'], /invalid hash range/],
    [['DIGEST', 'j', '64', '1', '0', '10'], /DIGEST job buckets/],
    [['DIGEST', 'j', '0', '1', '0', '10', '0', '10'], /invalid bucket count/],
    [['DIGEST', 'j', '65537', '1', '0', '10', '0', '10'], /invalid bucket count/],
    [['DIGEST', 'bad job', '64', '1', '0', '10', '0', '10'], /invalid job name/],
    [['DIGEST', 'j', '64', '1', '0', '4294967296', '0', '10'], /invalid hash range/],
    [['KEYS', 'j'], /KEYS job bucket/],
    [['KEYS', 'j', '65536'], /invalid bucket/],
    [['FETCH', '0', 'k'], /invalid max-bytes/],
    [['PUT', 'k', 'nothex', '0', 'v'], /invalid expected/],
    [['PUT', 'k', '-', '-5', 'v'], /invalid pttl/],
    [['PUT', 'k', '-', '0'], /PUT key expected/],
    [['ROWS', 'j', 'x'], /invalid bucket/],
    [['NOPE'], /unknown subcommand/],
    [[], /unknown subcommand/],
  ];
  for (const [args, why] of refused) t.match(parseRepairRequest(args), why, args.join(' '));
});

t.test('replies decode; errors and garbage are messages', async (t) => {
  const table = Buffer.alloc(24, 7);
  for (const r of [encodeDigestReply({ done: true, keys: 9, table }), encodeDigestReply({ done: false, keys: 3, table: null })]) {
    const items = decodeFlatArray(r, 0, r.length);
    t.ok(Array.isArray(items));
    t.match(decodeDigestReply(items as never), r.length > 20 ? { done: true, keys: 9, table } : { done: false, keys: 3 });
  }
  const keys = encodeKeysReply([{ key: Buffer.from([0, 13, 10]), digest: 'abcd', expireAt: -1 }, { key: Buffer.from('k'), digest: 'ef', expireAt: 123 }]);
  t.same(decodeKeysReply(decodeFlatArray(keys, 0, keys.length) as never), [{ key: Buffer.from([0, 13, 10]), digest: 'abcd', expireAt: -1 }, { key: Buffer.from('k'), digest: 'ef', expireAt: 123 }]);
  const fetched = encodeFetchReply([{ pttl: -2, payload: Buffer.alloc(0) }, { pttl: 5, payload: Buffer.from([1, 2]) }]);
  t.same(decodeFetchReply(decodeFlatArray(fetched, 0, fetched.length) as never), [{ pttl: -2, payload: Buffer.alloc(0) }, { pttl: 5, payload: Buffer.from([1, 2]) }]);
  const put = encodePutReply([1, 0, 'ERR bad\r\nthing']);
  t.same(decodeFlatArray(put, 0, put.length), [1, 0, Buffer.from('ERR bad  thing')]);
  const err = repairError('no\r\njob');
  t.equal(decodeFlatArray(err, 0, err.length), 'ERR dynoproxy repair: no  job');
  for (const junk of ['+OK\r\n', '*2\r\n:1\r\n', '*1\r\n$5\r\nab\r\n', '*1\r\n#x\r\n', '']) t.type(decodeFlatArray(Buffer.from(junk), 0, junk.length), 'string', JSON.stringify(junk));
  t.type(decodeDigestReply([1, 2, Buffer.alloc(5)]), 'string', 'a table not of 12-byte buckets');
  t.type(decodeKeysReply([Buffer.from('k'), 1]), 'string');
  t.type(decodeFetchReply([Buffer.from('k'), 1]), 'string');
});

t.test('buckets cut the layout evenly; expiry compared within the tolerance', async (t) => {
  const layout = [100, 199, 1000, 1099];
  t.equal(rangeOffset(layout, 150), 50);
  t.equal(rangeOffset(layout, 1000), 100);
  t.equal(rangeOffset(layout, 500), -1);
  t.equal(bucketOf(layout, 200, 4, 100), 0);
  t.equal(bucketOf(layout, 200, 4, 199), 1);
  t.equal(bucketOf(layout, 200, 4, 1000), 2);
  t.equal(bucketOf(layout, 200, 4, 1099), 3);
  t.equal(bucketOf(layout, 200, 4, 99), -1);
  const full = [0, 4294967295];
  t.equal(bucketOf(full, 2 ** 32, 65536, 4294967295), 65535, 'the last hash in the last bucket');
  t.ok(sameExpiry(-1, -1) && !sameExpiry(-1, 5) && sameExpiry(10_000, 11_000) && !sameExpiry(10_000, 20_000));
  t.equal(ttlBucket(-1), -1);
  t.equal(ttlBucket(120_000), 2);
});
