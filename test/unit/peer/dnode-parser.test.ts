// Tests DnodeParser and the header writers against dnode frames captured between two real Dynomite nodes:
// exact fields, exact re-encoding, every split, several messages per segment, strictness and limits.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { DnodeHeaderTemplate, DnodeParser, DNODE_DATA_GOSSIP, DNODE_DATA_PLAIN, DNODE_ERROR, DNODE_INCOMPLETE, dnodeHeaderLength, dnodeTypeName, writeDnodeHeader, DMSG_REQ, DMSG_RES, GOSSIP_SYN } from '../../../src/protocol/dnode/index.ts';
import { cut, feedDnode } from './dnode-feed.ts';

interface VectorMessage {
  hex: string; msgId: string; type: number; typeName: string; flags: number; version: number; sameDc: number;
  dataLen: number; dataHex: string; payloadLen: number; payloadHex: string;
}
interface VectorFrame { scenario: string; index: number; hex: string; description: string; messages: VectorMessage[] }
const frames = (JSON.parse(readFileSync('/work/shared/vectors/dnode-frames.json', 'utf8')) as { frames: VectorFrame[] }).frames;

const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const expected = (m: VectorMessage): object => ({
  hex: m.hex, msgId: Number(m.msgId), type: m.type, flags: m.flags, version: m.version, sameDc: m.sameDc,
  dataHex: m.dataHex, payloadHex: m.payloadHex,
});
const label = (f: VectorFrame): string => `${f.scenario}#${f.index}`;

t.test('every captured segment parses into exactly the messages decoded in the vectors', async (t) => {
  t.equal(frames.length, 10);
  t.ok(frames.some((f) => f.messages.length > 1), 'some segments hold several messages');
  for (const f of frames) {
    const out = feedDnode([bytes(f.hex)]);
    t.same(out.violations, [], label(f));
    t.equal(out.end, 'clean', label(f));
    t.same(out.messages, f.messages.map(expected), label(f));
    for (const m of f.messages) {
      t.equal(dnodeTypeName(m.type), m.typeName);
      t.equal(bytes(m.dataHex).length, m.dataLen);
      t.equal(bytes(m.payloadHex).length, m.payloadLen);
    }
  }
});

t.test('all segments of a scenario back to back parse as one stream', async (t) => {
  for (const scenario of new Set(frames.map((f) => f.scenario))) {
    const fs = frames.filter((f) => f.scenario === scenario);
    const out = feedDnode([bytes(fs.map((f) => f.hex).join(''))]);
    t.same(out.violations, []);
    t.equal(out.end, 'clean');
    t.same(out.messages, fs.flatMap((f) => f.messages.map(expected)), scenario);
  }
});

t.test('each message re-encodes to the captured bytes, with both writers', async (t) => {
  for (const f of frames) {
    let whole = '';
    for (const m of f.messages) {
      const data = bytes(m.dataHex);
      const payload = bytes(m.payloadHex);
      const msgId = Number(m.msgId);
      const len = dnodeHeaderLength(msgId, m.type, m.flags, m.version, m.sameDc, data.length, payload.length);
      const buf = new Uint8Array(len + payload.length + 3);
      const end = writeDnodeHeader(buf, 3, msgId, m.type, m.flags, m.version, m.sameDc, data, payload.length);
      t.equal(end, 3 + len, 'dnodeHeaderLength is the written length');
      buf.set(payload, end);
      t.equal(Buffer.from(buf.subarray(3)).toString('hex'), m.hex, `${label(f)} msg ${m.msgId}`);
      const template = new DnodeHeaderTemplate(m.type, m.flags, m.version, m.sameDc, data);
      t.equal(template.length(msgId, payload.length), len);
      const buf2 = new Uint8Array(len + payload.length);
      t.equal(template.write(buf2, 0, msgId, payload.length), len);
      buf2.set(payload, len);
      t.equal(Buffer.from(buf2).toString('hex'), m.hex);
      whole += m.hex;
    }
    t.equal(whole, f.hex, `${label(f)}: the messages are the whole segment`);
  }
  t.same(Buffer.from(DNODE_DATA_PLAIN).toString(), 'd');
  t.same(Buffer.from(DNODE_DATA_GOSSIP).toString(), 'a');
});

t.test('every segment split at every byte, and fed byte by byte, gives the same messages', async (t) => {
  let splits = 0;
  for (const f of frames) {
    const b = bytes(f.hex);
    const want = f.messages.map(expected);
    for (let c = 1; c < b.length; c++) {
      const out = feedDnode(cut(b, [c]));
      splits++;
      if (out.violations.length > 0 || out.end !== 'clean' || JSON.stringify(out.messages) !== JSON.stringify(want)) {
        t.fail(`${label(f)} split at ${c}: ${out.end} ${out.violations.join('; ')}`);
      }
    }
    const bytewise = feedDnode(cut(b, Array.from({ length: b.length }, (_, i) => i)));
    t.same(bytewise.violations, []);
    t.equal(bytewise.end, 'clean');
    t.same(bytewise.messages, want, `${label(f)} byte by byte`);
  }
  t.ok(splits > 700, `${splits} splits`);
});

t.test('a partial message reports where it starts and a lower bound of its length', async (t) => {
  const b = bytes(frames[0].hex);
  const p = new DnodeParser();
  t.equal(p.parse(b, 0, 5), DNODE_INCOMPLETE);
  t.equal(p.needed, 28, 'no message is shorter than 28 bytes');
  t.equal(p.parse(b, 0, 40), DNODE_INCOMPLETE, 'the header is read, the payload is not all there');
  t.equal(p.needed, b.length, 'once the header is read, needed is exact');
  t.equal(p.frameStart, 0);
  t.equal(p.parse(b, 0, b.length), b.length);
  t.equal(p.payloadStart, b.length - 31);
  // Presenting fewer bytes than the header already read breaks the contract: the parser starts over.
  t.equal(p.parse(b, 0, 40), DNODE_INCOMPLETE);
  t.equal(p.parse(b, 0, 12), DNODE_INCOMPLETE);
  t.equal(p.needed, 28);
  t.equal(p.parse(b, 0, b.length), b.length);
});

function parseText(text: string, parser = new DnodeParser()): { r: number; parser: DnodeParser } {
  const b = ascii(text);
  return { r: parser.parse(b, 0, b.length), parser };
}

t.test('strict on the magic, the digits and the separators; garbage fails without waiting', async (t) => {
  const good = '   $2014$ 2 3 0 1 1 *1 d *4\r\n:1\r\n';
  t.equal(parseText(good).r, good.length);
  const bad: [string, string][] = [
    ['GET foo\r\n', 'magic'],
    ['*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n', 'magic'],
    ['  $2014$ 2 3 0 1 1 *1 d *4\r\n:1\r\n', 'magic'],
    ['   $2015$ 2 3 0 1 1 *1 d *4\r\n:1\r\n', 'magic'],
    ['   $2014$  2 3 0 1 1 *1 d *4\r\n', 'msg_id'],
    ['   $2014$ 02 3 0 1 1 *1 d *4\r\n', 'msg_id'],
    ['   $2014$ -2 3 0 1 1 *1 d *4\r\n', 'msg_id'],
    ['   $2014$ +2 3 0 1 1 *1 d *4\r\n', 'msg_id'],
    ['   $2014$ 9007199254740992 3 0 1 1 *1 d *4\r\n', 'msg_id'],
    ['   $2014$ 12345678901234567', 'msg_id'],
    ['   $2014$ 2 256 0 1 1 *1 d *4\r\n', 'type'],
    ['   $2014$ 2 3x', 'type'],
    ['   $2014$ 2 3 00 1 1 *1 d *4\r\n', 'flags'],
    ['   $2014$ 2 3 0 1000', 'version'],
    ['   $2014$ 2 3 0 1 2 *1 d *4\r\n', 'same_dc'],
    ['   $2014$ 2 3 0 1 1*1 d *4\r\n', 'same_dc'],
    ['   $2014$ 2 3 0 1 1 1 d *4\r\n', 'same_dc'],
    ['   $2014$ 2 3 0 1 1 *-1 d *4\r\n', 'data length'],
    ['   $2014$ 2 3 0 1 1 *99999 ', 'data length'],
    ['   $2014$ 2 3 0 1 1 *1 dd*4\r\n', 'after data'],
    ['   $2014$ 2 3 0 1 1 *1 d 4\r\n', 'after data'],
    ['   $2014$ 2 3 0 1 1 *1 d *\r\n', 'payload length'],
    ['   $2014$ 2 3 0 1 1 *1 d *4\n', 'payload length'],
    ['   $2014$ 2 3 0 1 1 *1 d *4\rX', 'payload length'],
    ['   $2014$ 2 3 0 1 1 *1 d *4 \r\n', 'payload length'],
    ['   $2014$ 2 3 0 1 1 *1 d *9999999999\r\n', 'payload length'],
  ];
  for (const [text, what] of bad) {
    const { r, parser } = parseText(text);
    t.equal(r, DNODE_ERROR, JSON.stringify(text));
    t.match(parser.errorMessage, what, JSON.stringify(text));
  }
  // Every proper prefix of a good message is incomplete, never an error.
  for (let n = 1; n < good.length; n++) t.equal(parseText(good.slice(0, n)).r, DNODE_INCOMPLETE, `prefix ${n}`);
  // The largest msg_id we accept, and empty data and payload.
  const edge = '   $2014$ 9007199254740991 255 0 255 0 *0  *0\r\n';
  const e = parseText(edge);
  t.equal(e.r, edge.length);
  t.same([e.parser.msgId, e.parser.type, e.parser.version, e.parser.sameDc, e.parser.dataLen, e.parser.payloadLen],
    [Number.MAX_SAFE_INTEGER, 255, 255, 0, 0, 0]);
});

t.test('the encryption flag is refused unless allowed, and then only reported', async (t) => {
  const text = '   $2014$ 2 3 1 1 1 *3 key *4\r\n:1\r\n';
  const refused = parseText(text);
  t.equal(refused.r, DNODE_ERROR);
  t.match(refused.parser.errorMessage, /secure_server_option/);
  t.equal(parseText('   $2014$ 2 3 3 ').r, DNODE_ERROR, 'refused as soon as the flags are read');
  const allowed = parseText(text, new DnodeParser({ maxPayloadBytes: 100, maxDataBytes: 100, allowEncrypted: true }));
  t.equal(allowed.r, text.length);
  t.equal(allowed.parser.flags, 1);
  t.equal(allowed.parser.dataLen, 3);
});

t.test('limits: payload and data lengths are bounded by the constructor', async (t) => {
  const p = (): DnodeParser => new DnodeParser({ maxPayloadBytes: 10, maxDataBytes: 2, allowEncrypted: false });
  const atLimit = '   $2014$ 1 3 0 1 1 *2 ab *10\r\n0123456789';
  t.equal(parseText(atLimit, p()).r, atLimit.length);
  t.equal(parseText('   $2014$ 1 3 0 1 1 *2 ab *11\r\n', p()).r, DNODE_ERROR);
  t.equal(parseText('   $2014$ 1 3 0 1 1 *2 ab *100', p()).r, DNODE_ERROR, 'too many digits fail before the CR');
  t.equal(parseText('   $2014$ 1 3 0 1 1 *3 abc *1\r\nx', p()).r, DNODE_ERROR);
  t.equal(parseText('   $2014$ 1 3 0 1 1 *10', p()).r, DNODE_ERROR);
  // The default limit follows Redis's 512 MiB; a header never claims more than it.
  t.equal(parseText('   $2014$ 1 3 0 1 1 *1 d *536870913\r\n').r, DNODE_ERROR);
  const big = parseText('   $2014$ 1 3 0 1 1 *1 d *536870912\r\n');
  t.equal(big.r, DNODE_INCOMPLETE);
  t.equal(big.parser.needed, '   $2014$ 1 3 0 1 1 *1 d *536870912\r\n'.length + 536870912);
});

t.test('the writers refuse what the parser would refuse, before writing anything', async (t) => {
  const buf = new Uint8Array(64);
  t.throws(() => writeDnodeHeader(buf, 0, -1, DMSG_REQ, 0, 1, 1, DNODE_DATA_PLAIN, 1), RangeError);
  t.throws(() => writeDnodeHeader(buf, 0, 2 ** 53, DMSG_REQ, 0, 1, 1, DNODE_DATA_PLAIN, 1), RangeError);
  t.throws(() => writeDnodeHeader(buf, 0, 1.5, DMSG_REQ, 0, 1, 1, DNODE_DATA_PLAIN, 1), RangeError);
  t.throws(() => writeDnodeHeader(buf, 0, 1, 256, 0, 1, 1, DNODE_DATA_PLAIN, 1), RangeError);
  t.throws(() => writeDnodeHeader(buf, 0, 1, DMSG_RES, 0, 1, 2, DNODE_DATA_PLAIN, 1), RangeError);
  t.throws(() => writeDnodeHeader(buf, 40, 1, DMSG_RES, 0, 1, 1, DNODE_DATA_PLAIN, 1), RangeError, 'does not fit');
  t.ok(buf.every((b) => b === 0), 'nothing was written');
  t.throws(() => new DnodeHeaderTemplate(GOSSIP_SYN, 0, 1, 7, DNODE_DATA_GOSSIP), RangeError);
  const tpl = new DnodeHeaderTemplate(GOSSIP_SYN, 0, 1, 1, DNODE_DATA_GOSSIP);
  t.throws(() => tpl.write(buf, 50, 1, 1), RangeError);
  const end = tpl.write(buf, 0, 12345, 678);
  t.equal(Buffer.from(buf.subarray(0, end)).toString('latin1'), '   $2014$ 12345 7 0 1 1 *1 a *678\r\n');
});
