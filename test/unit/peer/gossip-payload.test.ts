// Tests the GOSSIP_SYN payload codec on the payloads two real Dynomite nodes sent, on several records, and on the
// malformed records it must refuse rather than guess at.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { encodeGossipNodes, parseGossipNodes, GOSSIP_SYN, type GossipNodeRecord } from '../../../src/protocol/dnode/index.ts';

interface VectorFrame { scenario: string; messages: { type: number; payloadHex: string; payloadText: string }[] }
const frames = (JSON.parse(readFileSync('/work/shared/vectors/dnode-frames.json', 'utf8')) as { frames: VectorFrame[] }).frames;
const gossip = frames.flatMap((f) => f.messages).filter((m) => m.type === GOSSIP_SYN);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

t.test('the captured GOSSIP_SYN payloads parse into records and encode back to the same bytes', async (t) => {
  t.equal(gossip.length, 5);
  for (const m of gossip) {
    const bytes = new Uint8Array(Buffer.from(m.payloadHex, 'hex'));
    const r = parseGossipNodes(bytes);
    if (!r.ok) throw new Error(r.error);
    t.equal(r.nodes.length, 1);
    t.match(r.nodes[0], { dc: 'dc1', rack: /^rack[12]$/, token: '1383429731', timestamp: 1795608446, state: 7, host: '127.0.0.1' });
    t.equal(Buffer.from(encodeGossipNodes(r.nodes)).toString('hex'), m.payloadHex);
  }
});

t.test('several records joined by |, parsed from the middle of a buffer', async (t) => {
  const nodes: GossipNodeRecord[] = [
    { dc: 'us-east-1', rack: 'rack-a', token: '0', timestamp: 0, state: 4, host: '10.0.0.1' },
    { dc: 'us-east-1', rack: 'rack-b', token: '4294967295', timestamp: 1700000000, state: 8, host: 'node2.example' },
    { dc: 'eu-west-1', rack: 'r1', token: '-5', timestamp: 12, state: 255, host: '::1' },
    { dc: 'dc-é', rack: 'ラック', token: '1383429731', timestamp: 1, state: 0, host: 'fe80::1%eth0' },
  ];
  const encoded = encodeGossipNodes(nodes);
  t.equal(Buffer.from(encoded).toString(), 'us-east-1$rack-a$0,0,4,10.0.0.1|us-east-1$rack-b$4294967295,1700000000,8,node2.example|' +
    'eu-west-1$r1$-5,12,255,::1|dc-é$ラック$1383429731,1,0,fe80::1%eth0');
  const framed = new Uint8Array(encoded.length + 6);
  framed.set(encoded, 3);
  t.same(parseGossipNodes(framed, 3, 3 + encoded.length), { ok: true, nodes });
  t.same(parseGossipNodes(framed, 3, 3), { ok: true, nodes: [] }, 'an empty payload holds no records');
});

t.test('malformed records are refused with a reason', async (t) => {
  const bad = [
    'dc1$rack1$1,2,3', // 3 fields
    'dc1$rack1$1,2,3,h,x',
    'dc1$1,2,3,h', // host id without rack
    'dc1$rack1$1$2,2,3,h',
    '$rack1$1,2,3,h',
    'dc1$$1,2,3,h',
    'dc1$rack1$1,2,3,',
    'dc1$rack1$1,2,3,h$x',
    'dc1$rack1$,2,3,h',
    'dc1$rack1$01,2,3,h',
    'dc1$rack1$4294967296,2,3,h',
    'dc1$rack1$1x,2,3,h',
    'dc1$rack1$1,-2,3,h',
    'dc1$rack1$1,02,3,h',
    'dc1$rack1$1,2,256,h',
    'dc1$rack1$1,2,,h',
    'dc1$rack1$1,2,3,h|',
    '|dc1$rack1$1,2,3,h',
  ];
  for (const s of bad) {
    const r = parseGossipNodes(text(s));
    t.equal(r.ok, false, s);
    if (!r.ok) t.match(r.error, /record \d|UTF-8/, s);
  }
  t.same(parseGossipNodes(Uint8Array.of(0x64, 0xff, 0x24)), { ok: false, error: 'payload is not valid UTF-8' });
  t.equal(parseGossipNodes(text('x'), 0, 5).ok, false, 'a range past the buffer');
});

t.test('the encoder refuses what the parser would refuse', async (t) => {
  const good: GossipNodeRecord = { dc: 'dc1', rack: 'rack1', token: '1', timestamp: 2, state: 3, host: 'h' };
  const bad: Partial<GossipNodeRecord>[] = [
    { dc: '' }, { dc: 'a|b' }, { rack: 'a,b' }, { host: 'a$b' }, { token: '1.5' }, { token: '' }, { token: '99999999999' },
    { timestamp: -1 }, { timestamp: 1.5 }, { state: 256 }, { state: -1 },
  ];
  for (const b of bad) t.throws(() => encodeGossipNodes([{ ...good, ...b }]), RangeError, JSON.stringify(b));
  t.same(Buffer.from(encodeGossipNodes([])).length, 0);
});
