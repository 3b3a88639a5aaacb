// Client-facing replies: the exact wording of Redis 7 and Dynomite, and byte-exact quoting of client arguments.
// Every reply must also be one well-formed RESP reply (checked with RespReplyScanner).
import t from 'tap';
import * as R from '../../../../src/protocol/resp/index.ts';

const s = (b: Buffer): string => b.toString('latin1');

function oneReply(b: Buffer): boolean {
  return new R.RespReplyScanner().scan(b, 0, b.length) === b.length;
}

t.test('constant replies', async (t) => {
  t.equal(s(R.REPLY_OK), '+OK\r\n');
  t.equal(s(R.REPLY_PONG), '+PONG\r\n');
  t.equal(s(R.REPLY_QUEUED), '+QUEUED\r\n');
  t.equal(s(R.REPLY_NULL_BULK), '$-1\r\n');
  t.equal(s(R.REPLY_NULL_ARRAY), '*-1\r\n');
  t.equal(s(R.REPLY_EMPTY_ARRAY), '*0\r\n');
  t.equal(s(R.REPLY_EMPTY_BULK), '$0\r\n\r\n');
  t.equal(s(R.ERR_NOAUTH), '-NOAUTH Authentication required.\r\n');
  t.equal(s(R.ERR_WRONGPASS), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  t.equal(s(R.ERR_STORAGE_CONNECTION_REFUSED), '-ERR Storage: Connection refused\r\n');
  t.equal(s(R.ERR_STORAGE_CONNECTION_TIMED_OUT), '-ERR Storage: Connection timed out\r\n');
  t.equal(s(R.ERR_PEER_HOST_DOWN), '-ERR Peer: Peer Node is down\r\n');
  for (const [name, value] of Object.entries(R)) {
    if (Buffer.isBuffer(value)) t.ok(oneReply(value), `${name} is one RESP reply`);
  }
});

t.test('dynamic errors', async (t) => {
  t.equal(s(R.storageError('ECONNREFUSED')), '-ERR Storage: Connection refused\r\n');
  t.equal(s(R.storageError('ETIMEDOUT')), '-ERR Storage: Connection timed out\r\n');
  t.equal(s(R.peerError('ECONNRESET')), '-ERR Peer: Connection reset by peer\r\n');
  t.equal(s(R.peerError('Peer Node is not connected')), '-ERR Peer: Peer Node is not connected\r\n');
  t.equal(s(R.proxyError('KEYS is not supported')), '-ERR dynoproxy: KEYS is not supported\r\n');
  t.equal(s(R.proxyError('two\r\nlines')), '-ERR dynoproxy: two  lines\r\n');
  t.equal(s(R.wrongArity('GET')), "-ERR wrong number of arguments for 'get' command\r\n");
  t.equal(s(R.protocolError('Protocol error: invalid bulk length')), '-ERR Protocol error: invalid bulk length\r\n');
  t.equal(s(R.protocolError("Protocol error: expected '$', got '\xff'")), "-ERR Protocol error: expected '$', got '\xff'\r\n", 'a raw byte stays one byte');
  t.equal(s(R.errorReply('MOVED 3999 127.0.0.1:6381')), '-MOVED 3999 127.0.0.1:6381\r\n');
});

t.test('protocolError wraps every parser message into one reply', async (t) => {
  const p = new R.RespRequestParser();
  for (const bad of ['*x\r\n', '*1\r\n\n', '*1\r\n$-1\r\n', '"a\r\n']) {
    const buf = Buffer.from(bad, 'latin1');
    t.equal(p.parse(buf, 0, buf.length), R.PARSE_ERROR);
    const reply = R.protocolError(p.errorMessage);
    t.ok(s(reply).startsWith('-ERR Protocol error: '), s(reply));
    t.ok(oneReply(reply));
  }
});

t.test("unknownCommand quotes like Redis 7 (128-byte budget, NUL ends an argument, CR/LF become spaces)", async (t) => {
  const p = new R.RespRequestParser();
  const parse = (args: string[]): void => {
    const parts = [`*${args.length}\r\n`, ...args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`)];
    const buf = Buffer.from(parts.join(''), 'latin1');
    t.equal(p.parse(buf, 0, buf.length), buf.length);
  };
  parse(['FOO', 'a', 'b c']);
  t.equal(s(R.unknownCommand(p.argBuf, p.argOff, p.argLen, p.argc)), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b c' \r\n");
  parse(['foo']);
  t.equal(s(R.unknownCommand(p.argBuf, p.argOff, p.argLen, p.argc)), "-ERR unknown command 'foo', with args beginning with: \r\n");
  parse(['x', 'a'.repeat(200), 'b']);
  t.equal(s(R.unknownCommand(p.argBuf, p.argOff, p.argLen, p.argc)), `-ERR unknown command 'x', with args beginning with: '${'a'.repeat(128)}' \r\n`);
  parse(['x', 'a'.repeat(100), 'b'.repeat(100), 'c']);
  t.equal(s(R.unknownCommand(p.argBuf, p.argOff, p.argLen, p.argc)), `-ERR unknown command 'x', with args beginning with: '${'a'.repeat(100)}' '${'b'.repeat(25)}' \r\n`);
  parse(['n\r\na', 'v\0w', '\xff']);
  const reply = R.unknownCommand(p.argBuf, p.argOff, p.argLen, p.argc);
  t.equal(s(reply), "-ERR unknown command 'n  a', with args beginning with: 'v' '\xff' \r\n");
  t.ok(oneReply(reply));
  parse(['CONFIG', 'BOGUS']);
  t.equal(s(R.unknownSubcommand(p.argBuf, p.argOff[1], p.argLen[1], 'config')), "-ERR unknown subcommand 'BOGUS'. Try CONFIG HELP.\r\n");
});
