// Users' rules without sockets: Redis-style key globs on bytes, command categories from the command table, the `users:` line parser.
// It must never depend on a running process: pure functions only.
import t from 'tap';
import { createHash } from 'node:crypto';
import { globMatch, categoriesOf, compileUsers, authenticateUser } from '../../../src/proxy/resp/resp-acl.ts';
import { parseUser } from '../../../src/config/parse-user.ts';
import { parseConfig } from '../../../src/config/index.ts';
import { ALL_COMMANDS, type CommandSpec } from '../../../src/commands/index.ts';

const findCommand = (name: string): CommandSpec | undefined => ALL_COMMANDS.find((s) => s.name === name);

const m = (pat: string, s: string): boolean => globMatch(Buffer.from(pat), 0, Buffer.from(s), 0, Buffer.byteLength(s));

t.test('globs as Redis stringmatchlen', async (t) => {
  t.ok(m('app:*', 'app:1'));
  t.ok(m('app:*', 'app:'));
  t.notOk(m('app:*', 'ap'));
  t.ok(m('*', ''));
  t.ok(m('a*b*c', 'axxbyyc'));
  t.notOk(m('a*b*c', 'axxbyy'));
  t.ok(m('h?llo', 'hello'));
  t.notOk(m('h?llo', 'hllo'));
  t.ok(m('h[ae]llo', 'hallo'));
  t.notOk(m('h[ae]llo', 'hillo'));
  t.ok(m('h[^e]llo', 'hallo'));
  t.notOk(m('h[^e]llo', 'hello'));
  t.ok(m('h[a-c]llo', 'hbllo'));
  t.ok(m('a\\*b', 'a*b'));
  t.notOk(m('a\\*b', 'axb'));
  t.notOk(m('user:*', 'app:user:1'), 'anchored at both ends');
});

t.test('categories come from the command table', async (t) => {
  const cat = (name: string): string[] => categoriesOf(findCommand(name)!);
  t.ok(cat('get').includes('read') && cat('get').includes('string') && cat('get').includes('fast'));
  t.ok(cat('set').includes('write') && !cat('set').includes('read'));
  t.ok(cat('lpush').includes('list'));
  t.ok(cat('zadd').includes('sortedset'));
  t.ok(cat('del').includes('keyspace'));
  t.ok(cat('blpop').includes('blocking'));
  t.ok(cat('flushall').includes('dangerous'));
});

t.test('the users: line: password as #sha256 or >plain (kept as its digest), categories, key patterns', async (t) => {
  const u = parseUser('alice >wonder +@read +@string ~app:* ~cache:*');
  t.same(u, { name: 'alice', sha256: createHash('sha256').update('wonder').digest('hex'), categories: ['read', 'string'], keys: ['app:*', 'cache:*'] });
  t.same(parseUser(`bob #${'A'.repeat(64)} allcommands allkeys`).keys, ['*']);
  t.throws(() => parseUser('carol +@read'), /no password/);
  t.throws(() => parseUser('carol >x +@reed'), /unknown category "reed"/);
  t.throws(() => parseUser('default >x'), /requirepass/);
  t.throws(() => parseUser('dave #abc'), /64 hex digits/);
  t.throws(() => parseUser('erin >x on'), /unknown rule "on"/);
  const users = compileUsers([u]);
  t.equal(authenticateUser(users, 'alice', Buffer.from('wonder'))?.name, 'alice');
  t.equal(authenticateUser(users, 'alice', Buffer.from('wonder!')), null);
  t.equal(authenticateUser(users, 'mallory', Buffer.from('wonder')), null);
  const a = users.get('alice')!;
  t.equal(a.allowed[findCommand('get')!.id], 1);
  t.equal(a.allowed[findCommand('set')!.id], 1, '+@string lets SET in');
  t.equal(a.allowed[findCommand('lpush')!.id], 0);
  t.equal(a.allowed[findCommand('ping')!.id], 1, 'connection commands for everyone');
});

t.test('users on a memcached pool are a warning: memcached has no AUTH', async (t) => {
  const text = ['m:', '  listen: 127.0.0.1:8102', '  data_store: 1', '  users:', '    - alice >pw +@read', '  servers:', '  - 127.0.0.1:11211:1', ''].join('\n');
  t.match(parseConfig(text, 'm.yml').warnings, [/m\.users: memcached has no AUTH; the users are ignored/]);
});
