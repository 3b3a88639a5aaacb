// Tests of keyIndexes() for every KeySpec kind, malformed key arguments, option refusals and the helpers around them.
// Pure: no server; redis-server.test.ts checks the same extraction against COMMAND GETKEYS.
import t from 'tap';
import {
  resolveCommand, keyIndexes, keyErrorMessage, refusalFor, splitStep, legacyKeyRange, parseInteger, KEYS_MALFORMED, KEYS_REFUSED,
  type CommandSpec,
} from '../../../src/commands/index.ts';
import { line, argv, type Argv } from './argv.ts';

function spec(a: Argv): CommandSpec {
  const s = resolveCommand(a.buf, a.off, a.len, a.argc);
  if (s === undefined) throw new Error('unknown command in test');
  return s;
}

/** The key arguments of a command line, as strings; or the failure code. */
function keys(s: string): string[] | number {
  const a = line(s);
  const n = keyIndexes(spec(a), a.buf, a.off, a.len, a.argc, a.out);
  if (n < 0) return n;
  return Array.from(a.out.subarray(0, n), (i) => Buffer.from(a.buf.subarray(a.off[i], a.off[i] + a.len[i])).toString('latin1'));
}

function errorOf(s: string): string {
  const a = line(s);
  return keyErrorMessage(spec(a), a.buf, a.off, a.len, a.argc);
}

t.test('none', async (t) => {
  t.same(keys('PING'), []);
  t.same(keys('DBSIZE'), []);
  t.same(keys('SCRIPT LOAD x'), []);
});

t.test('range: one key, fixed pairs, to the end, to the one before the end, in steps', async (t) => {
  t.same(keys('GET k'), ['k']);
  t.same(keys('SET k v EX 10'), ['k']);
  t.same(keys('RENAME a b'), ['a', 'b']);
  t.same(keys('MGET a b c'), ['a', 'b', 'c']);
  t.same(keys('DEL a'), ['a']);
  t.same(keys('BITOP AND dst a b'), ['dst', 'a', 'b']);
  t.same(keys('BLPOP a b 0'), ['a', 'b'], 'last -2: the timeout is not a key');
  t.same(keys('MSET a 1 b 2 c 3'), ['a', 'b', 'c']);
  t.same(keys('OBJECT ENCODING k'), ['k'], 'subcommand keys count from the container name');
  t.same(keys('MEMORY USAGE k SAMPLES 5'), ['k']);
  t.same(keys('XGROUP CREATE s g $ MKSTREAM'), ['s']);
});

t.test('range: a key without its value is malformed, worded as Redis does', async (t) => {
  t.equal(keys('MSET a 1 b'), KEYS_MALFORMED);
  t.equal(errorOf('MSET a 1 b'), "ERR wrong number of arguments for 'mset' command");
  t.equal(keys('MSETNX a 1 b 2 c'), KEYS_MALFORMED);
  t.equal(errorOf('MSETNX a 1 b 2 c'), "ERR wrong number of arguments for 'msetnx' command");
});

t.test('numkeys: EVAL family accepts 0 keys', async (t) => {
  t.same(keys('EVAL s 0'), []);
  t.same(keys('EVAL s 0 a1 a2'), []);
  t.same(keys('EVAL s 2 k1 k2 a1'), ['k1', 'k2']);
  t.same(keys('evalsha_ro sha 1 k'), ['k']);
  t.same(keys('FCALL f 2 k1 k2'), ['k1', 'k2']);
  t.equal(keys('EVAL s x k'), KEYS_MALFORMED);
  t.equal(errorOf('EVAL s x k'), 'ERR value is not an integer or out of range');
  t.equal(keys('EVAL s 01 k'), KEYS_MALFORMED, 'leading zero, as Redis\' string2ll');
  t.equal(keys('EVAL s +1 k'), KEYS_MALFORMED);
  t.equal(keys('EVAL s -1 k'), KEYS_MALFORMED);
  t.equal(errorOf('EVAL s -1 k'), "ERR Number of keys can't be negative");
  t.equal(keys('EVAL s 3 k1 k2'), KEYS_MALFORMED);
  t.equal(errorOf('EVAL s 3 k1 k2'), "ERR Number of keys can't be greater than number of args");
  t.equal(errorOf('FCALL f x k'), 'ERR Bad number of keys provided');
  t.equal(errorOf('FCALL f 9 k'), "ERR Number of keys can't be greater than number of args");
});

t.test('numkeys: sorted-set and set operations need at least one key', async (t) => {
  t.same(keys('ZUNIONSTORE dst 2 a b WEIGHTS 1 2'), ['dst', 'a', 'b'], 'extra [1]: the destination first');
  t.same(keys('ZDIFFSTORE dst 1 a'), ['dst', 'a']);
  t.same(keys('ZINTER 2 a b WITHSCORES'), ['a', 'b']);
  t.same(keys('ZINTERCARD 1 a LIMIT 3'), ['a']);
  t.same(keys('SINTERCARD 2 a b'), ['a', 'b']);
  t.equal(keys('ZUNION 0 a'), KEYS_MALFORMED);
  t.equal(errorOf('ZUNION 0 a'), "ERR at least 1 input key is needed for 'zunion' command");
  t.equal(errorOf('ZUNIONSTORE d -3 a'), "ERR at least 1 input key is needed for 'zunionstore' command");
  t.equal(errorOf('ZUNION 3 a'), 'ERR syntax error');
  t.equal(errorOf('ZUNION 3000000000 a'), 'ERR syntax error');
  t.equal(errorOf('SINTERCARD 0 a'), 'ERR numkeys should be greater than 0');
  t.equal(errorOf('SINTERCARD x a'), 'ERR numkeys should be greater than 0');
  t.equal(errorOf('SINTERCARD 5 a'), "ERR Number of keys can't be greater than number of args");
});

t.test('numkeys: LMPOP/ZMPOP keep room for their direction argument', async (t) => {
  t.same(keys('LMPOP 2 a b LEFT COUNT 3'), ['a', 'b']);
  t.same(keys('ZMPOP 1 z MIN'), ['z']);
  t.equal(keys('LMPOP 2 a LEFT'), KEYS_MALFORMED, 'LEFT is the direction, not a second key');
  t.equal(errorOf('LMPOP 2 a LEFT'), 'ERR syntax error');
  t.equal(errorOf('LMPOP 0 a LEFT'), 'ERR numkeys should be greater than 0');
  t.same(keys('BLMPOP 0 1 a LEFT'), ['a'], 'refused by route, but its keys are still known');
});

t.test('options: SORT and GEORADIUS STORE, COPY', async (t) => {
  t.same(keys('SORT k'), ['k']);
  t.same(keys('SORT k BY w_* LIMIT 0 10 GET # GET h_*->f ALPHA DESC STORE dst'), ['k', 'dst']);
  t.same(keys('sort k limit store 1 by store'), ['k'], 'option values are skipped, not read as options');
  t.same(keys('SORT k STORE a STORE b'), ['k', 'a', 'b'], 'every STORE is reported, stricter than Redis');
  t.equal(keys('SORT k STORE'), KEYS_MALFORMED);
  t.equal(errorOf('SORT k STORE'), 'ERR syntax error');
  t.same(keys('GEORADIUS k 1 2 3 km WITHDIST COUNT 5 STORE d'), ['k', 'd']);
  t.same(keys('GEORADIUS k 1 2 3 km STOREDIST d'), ['k', 'd']);
  t.same(keys('GEORADIUSBYMEMBER k store 3 km'), ['k'], 'a member named store is not the option');
  t.same(keys('GEORADIUSBYMEMBER k m 3 km STORE d'), ['k', 'd']);
  t.same(keys('COPY a b'), ['a', 'b']);
  t.same(keys('COPY a b REPLACE'), ['a', 'b']);
});

t.test('options: XREAD and XREADGROUP STREAMS', async (t) => {
  t.same(keys('XREAD STREAMS s 0'), ['s']);
  t.same(keys('XREAD COUNT 10 STREAMS a b 0 $'), ['a', 'b']);
  t.same(keys('XREAD COUNT 2 STREAMS streams a 0 0'), ['streams', 'a'], 'the first STREAMS word is the option');
  t.same(keys('XREADGROUP GROUP streams c NOACK COUNT 1 STREAMS a b > >'), ['a', 'b'], 'GROUP takes two values');
  t.equal(keys('XREAD STREAMS a b 0'), KEYS_MALFORMED);
  t.equal(errorOf('XREAD STREAMS a b 0'), "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
  t.equal(keys('XREAD FOO 1 STREAMS a 0'), KEYS_MALFORMED, 'unknown option');
  t.equal(errorOf('XREAD FOO 1 STREAMS a 0'), 'ERR syntax error');
  t.equal(keys('XREAD COUNT 1 a 0'), KEYS_MALFORMED, 'no STREAMS');
  t.equal(keys('XREAD COUNT 1 STREAMS'), KEYS_MALFORMED);
});

t.test('options that refuse the call', async (t) => {
  // XREAD / XREADGROUP BLOCK are served (a connection of their own): BLOCK is an option like COUNT.
  t.same(keys('XREAD BLOCK 0 STREAMS s $'), ['s']);
  t.same(keys('xread count 1 block 100 streams a b 0 0'), ['a', 'b']);
  t.same(keys('XREADGROUP GROUP g c BLOCK 0 STREAMS s >'), ['s']);
  for (const s of ['COPY a b DB 1', 'COPY a b REPLACE db 2']) {
    t.equal(keys(s), KEYS_REFUSED, s);
    const a = line(s);
    const reason = refusalFor(spec(a), a.buf, a.off, a.len, a.argc);
    t.type(reason, 'string', s);
    t.match(reason, /not supported through dynoproxy/);
  }
  // BLOCK as a stream name after STREAMS, or as a group name, is not the option.
  for (const s of ['XREAD STREAMS block 0', 'XREADGROUP GROUP block c STREAMS s >', 'COPY db b']) {
    const a = line(s);
    t.equal(refusalFor(spec(a), a.buf, a.off, a.len, a.argc), undefined, s);
    t.ok((keys(s) as string[]).length > 0, s);
  }
  const blpop = line('BLPOP a 0');
  t.equal(refusalFor(spec(blpop), blpop.buf, blpop.off, blpop.len, blpop.argc), undefined, 'BLPOP is served');
  const get = line('GET k');
  t.equal(refusalFor(spec(get), get.buf, get.off, get.len, get.argc), undefined);
});

t.test('key bytes are found at their offsets, whatever the bytes', async (t) => {
  const a = argv('mget', Buffer.from([0, 255, 13, 10]), '', '{tag}x');
  const n = keyIndexes(spec(a), a.buf, a.off, a.len, a.argc, a.out);
  t.same(Array.from(a.out.subarray(0, n)), [1, 2, 3]);
  t.same(Array.from(a.buf.subarray(a.off[1], a.off[1] + a.len[1])), [0, 255, 13, 10]);
  t.equal(a.len[2], 0, 'an empty key is a key');
});

t.test('splitStep and legacyKeyRange', async (t) => {
  const s = (x: string) => spec(line(x));
  t.equal(splitStep(s('MGET a')), 1);
  t.equal(splitStep(s('DEL a')), 1);
  t.equal(splitStep(s('MSET a 1')), 2);
  t.equal(splitStep(s('GET a')), 0);
  t.equal(splitStep(s('MSETNX a 1')), 0, 'same-node, not split');
  t.same(legacyKeyRange(s('GET a')), [1, 1, 1]);
  t.same(legacyKeyRange(s('MSET a 1')), [1, -1, 2]);
  t.same(legacyKeyRange(s('ZUNIONSTORE d 1 a')), [1, 1, 1]);
  t.same(legacyKeyRange(s('SORT a')), [1, 1, 1]);
  t.same(legacyKeyRange(s('COPY a b')), [1, 2, 1]);
  t.same(legacyKeyRange(s('EVAL s 0')), [0, 0, 0]);
  t.same(legacyKeyRange(s('XREAD STREAMS a 0')), [0, 0, 0]);
});

t.test('parseInteger follows Redis string2ll', async (t) => {
  const p = (s: string) => {
    const b = Buffer.from(`..${s}`, 'latin1');
    return parseInteger(b, 2, b.length - 2);
  };
  t.equal(p('0'), 0);
  t.equal(p('7'), 7);
  t.equal(p('-12'), -12);
  t.ok(p('9223372036854775807') > 9e18, 'LLONG_MAX fits');
  t.ok(p('-9223372036854775808') < -9e18, 'LLONG_MIN fits');
  t.ok(Number.isNaN(p('9223372036854775808')), 'LLONG_MAX + 1 does not');
  t.ok(Number.isNaN(p('-9223372036854775809')));
  t.ok(p('1999999999999999999') > 1e18, '19 digits under the limit');
  t.ok(Number.isNaN(p('')));
  t.ok(Number.isNaN(p('-')));
  t.ok(Number.isNaN(p('-0')));
  t.ok(Number.isNaN(p('00')));
  t.ok(Number.isNaN(p('+1')));
  t.ok(Number.isNaN(p(' 1')));
  t.ok(Number.isNaN(p('1x')));
  t.ok(Number.isNaN(p('99999999999999999999')));
});
