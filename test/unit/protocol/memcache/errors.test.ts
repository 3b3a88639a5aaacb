// The memcached reply table and command-id helpers: exact wording, one line each, prebuilt where the hot path needs it.
// Wording is compared with memcached 1.6.18 and Dynomite by hand; a reply must never carry a raw CR or LF inside.
import t from 'tap';
import {
  requestErrorReply, clientError, serverError, storageError, peerError, proxyError, versionReply, REPLY_END,
  REPLY_ERROR, REPLY_MN, SERVER_ERROR_STORAGE_CONNECTION_REFUSED, SERVER_ERROR_NO_QUORUM, MSG_BAD_DATA_CHUNK,
  MSG_TOO_LARGE, commandName, hasDataBlock, isRetrieval, CMD_GET, CMD_GATS, CMD_SET, CMD_CAS, CMD_MS, CMD_MG,
  CMD_DELETE, CMD_ADMIN, MemcacheRequestParser, CMD_INVALID,
} from '../../../../src/protocol/memcache/index.ts';

const text = (buf: Buffer): string => buf.toString('latin1');

t.test('constant replies', async (t) => {
  t.equal(text(REPLY_ERROR), 'ERROR\r\n');
  t.equal(text(REPLY_END), 'END\r\n');
  t.equal(text(REPLY_MN), 'MN\r\n');
  t.equal(text(SERVER_ERROR_STORAGE_CONNECTION_REFUSED), 'SERVER_ERROR Storage: Connection refused\r\n');
  t.equal(text(SERVER_ERROR_NO_QUORUM), 'SERVER_ERROR Dynomite: Failed to achieve Quorum\r\n');
});

t.test('built replies', async (t) => {
  t.equal(text(clientError('bad data chunk')), 'CLIENT_ERROR bad data chunk\r\n');
  t.equal(text(serverError('out of memory')), 'SERVER_ERROR out of memory\r\n');
  t.equal(text(storageError('ECONNREFUSED')), 'SERVER_ERROR Storage: Connection refused\r\n');
  t.equal(text(storageError('ETIMEDOUT')), 'SERVER_ERROR Storage: Connection timed out\r\n');
  t.equal(text(peerError('ECONNRESET')), 'SERVER_ERROR Peer: Connection reset by peer\r\n');
  t.equal(text(proxyError('no\r\nsuch\nthing')), 'SERVER_ERROR dynoproxy: no  such thing\r\n', 'CR and LF become spaces');
  t.equal(text(versionReply('1.6.18-dynoproxy')), 'VERSION 1.6.18-dynoproxy\r\n');
});

t.test('every parser error has a prebuilt reply, the same buffer each time', async (t) => {
  const inputs = [
    'bogus\r\n', 'get ' + 'k'.repeat(251) + '\r\n', 'delete k 1\r\n', 'set k 0 0 1\r\nxy\r\n', 'gat x k\r\n', 'incr k x\r\n',
    'set k 0 0 2000000\r\n', 'mg k a b c d e f g h i j k l m n o p q r\r\n', 'md k a b c d e f g h i j k l m n o p q r\r\n',
    'mg k q q\r\n', 'mg k Z\r\n', 'mg k T\r\n', 'mg k b\r\n', 'mg k M\r\n', 'mg k J\r\n', 'mg k D\r\n', 'md k Z\r\n',
    'ms k 1 MZ\r\n', 'ma k MZ\r\n', `mg k O${'1'.repeat(32)}\r\n`,
  ];
  const seen = new Set<string>();
  for (const input of inputs) {
    const p = new MemcacheRequestParser();
    const buf = Buffer.from(input, 'latin1');
    t.ok(p.parse(buf, 0, buf.length) > 0, input);
    t.equal(p.cmd, CMD_INVALID, input);
    const reply = requestErrorReply(p.errorMessage);
    t.equal(reply, requestErrorReply(p.errorMessage), 'prebuilt');
    t.equal(text(reply), p.errorMessage + '\r\n');
    t.notMatch(p.errorMessage, /[\r\n]/);
    seen.add(p.errorMessage);
  }
  t.ok(seen.has(MSG_BAD_DATA_CHUNK) && seen.has(MSG_TOO_LARGE));
  t.equal(seen.size, inputs.length, 'each input shows a different message');
});

t.test('command ids', async (t) => {
  t.equal(commandName(CMD_GET), 'get');
  t.equal(commandName(CMD_MS), 'ms');
  t.equal(commandName(999), 'unknown');
  t.same([CMD_SET, CMD_CAS, CMD_MS, CMD_GET, CMD_MG].map(hasDataBlock), [true, true, true, false, false]);
  t.same([CMD_GET, CMD_GATS, CMD_MG, CMD_DELETE, CMD_ADMIN].map(isRetrieval), [true, true, false, false, false]);
});
