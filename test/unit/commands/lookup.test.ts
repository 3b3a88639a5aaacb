// Tests of the command table's shape and of resolveCommand()/arityOk(): byte-level, case-insensitive lookup.
// Pure: no server; the real redis-server comparison lives in redis-server.test.ts.
import t from 'tap';
import {
  COMMANDS, ALL_COMMANDS, specById, resolveCommand, arityOk, isWrite, F_BLOCKING, F_PUBSUB, F_WRITE, F_READONLY, type CommandSpec,
} from '../../../src/commands/index.ts';
import { argv, line } from './argv.ts';

function resolve(s: string): CommandSpec | undefined {
  const a = line(s);
  return resolveCommand(a.buf, a.off, a.len, a.argc);
}

t.test('lookup is case-insensitive and reads only the argument bytes', async (t) => {
  for (const name of ['get', 'GET', 'GeT', 'gEt']) t.equal(resolve(`${name} k`)?.name, 'get', name);
  t.equal(resolve('ZRANGEBYSCORE k 0 1')?.name, 'zrangebyscore');
  t.equal(resolve('georadiusbymember_RO k m 1 km')?.name, 'georadiusbymember_ro');
  t.equal(resolve('RESTORE-ASKING k 0 x')?.name, 'restore-asking');
  // A name that is a prefix or an extension of a real one is not that one.
  t.equal(resolve('GE k'), undefined);
  t.equal(resolve('GETS k'), undefined);
  t.equal(resolve('SETEXX k 1 v'), undefined);
  // Offsets inside a larger buffer: the bytes around the name must not matter.
  const buf = Buffer.from('xxxxMGETyyyyHSETzzzz');
  t.equal(resolveCommand(buf, Int32Array.of(4), Int32Array.of(4), 1)?.name, 'mget');
  t.equal(resolveCommand(buf, Int32Array.of(12), Int32Array.of(4), 1)?.name, 'hset');
  t.equal(resolveCommand(buf, Int32Array.of(12), Int32Array.of(3), 1)?.name, undefined, 'HSE is not a command');
  t.equal(resolveCommand(buf, Int32Array.of(0), Int32Array.of(0), 1), undefined, 'empty name');
  t.equal(resolveCommand(buf, new Int32Array(0), new Int32Array(0), 0), undefined, 'no arguments');
});

t.test('every name in the table resolves to itself, upper and lower case', async (t) => {
  for (const spec of ALL_COMMANDS) {
    const parts = spec.name.split('|');
    const lower = argv(...parts);
    const upper = argv(...parts.map((p) => p.toUpperCase()));
    t.equal(resolveCommand(lower.buf, lower.off, lower.len, lower.argc), spec, spec.name);
    t.equal(resolveCommand(upper.buf, upper.off, upper.len, upper.argc), spec, spec.name.toUpperCase());
  }
});

t.test('bytes outside ASCII letters are not folded', async (t) => {
  // 'G' | 32 is 'g', but 0xC7 | 32 must not become anything that matches.
  t.equal(resolveCommand(...args(argv(Buffer.from([0xc7, 0x45, 0x54]), 'k'))), undefined);
  t.equal(resolveCommand(...args(argv('get\0', 'k'))), undefined);
  t.equal(resolveCommand(...args(argv('[et', 'k'))), undefined, '[ is 0x5b, not a letter');
});

function args(a: ReturnType<typeof argv>): [Uint8Array, Int32Array, Int32Array, number] {
  return [a.buf, a.off, a.len, a.argc];
}

t.test('containers resolve their subcommands', async (t) => {
  t.equal(resolve('CLIENT SETNAME x')?.name, 'client|setname');
  t.equal(resolve('client GetName')?.name, 'client|getname');
  t.equal(resolve('SCRIPT LOAD x')?.name, 'script|load');
  t.equal(resolve('object encoding k')?.name, 'object|encoding');
  t.equal(resolve('XINFO STREAM s')?.name, 'xinfo|stream');
  t.equal(resolve('CONFIG GET maxmemory')?.name, 'config|get');
  t.equal(resolve('CLUSTER MYSHARDID')?.name, 'cluster|myshardid');
  // No subcommand: the container itself, whose arity fails (COMMAND alone is valid).
  const client = resolve('CLIENT');
  t.equal(client?.name, 'client');
  t.notOk(arityOk(client!, 1));
  const command = resolve('COMMAND');
  t.equal(command?.name, 'command');
  t.ok(arityOk(command!, 1));
  t.equal(command?.route, 'proxy');
  // Unknown subcommand: undefined; a subcommand of another container is unknown here.
  t.equal(resolve('CLIENT FOO'), undefined);
  t.equal(resolve('SCRIPT SETNAME x'), undefined);
  t.equal(resolve('SCRIPT LOADX x'), undefined);
  // A subcommand name is not a top-level command, and a top-level name is not a subcommand.
  t.equal(resolve('SETNAME x'), undefined);
  t.equal(resolve('CLIENT GET k'), undefined);
  // Commands that are not containers ignore argv[1].
  t.equal(resolve('GET client')?.name, 'get');
});

t.test('arityOk follows Redis: exact when positive, at least when negative', async (t) => {
  const get = resolve('GET k')!;
  t.equal(get.arity, 2);
  t.notOk(arityOk(get, 1));
  t.ok(arityOk(get, 2));
  t.notOk(arityOk(get, 3));
  const set = resolve('SET k v')!;
  t.equal(set.arity, -3);
  t.notOk(arityOk(set, 2));
  t.ok(arityOk(set, 3));
  t.ok(arityOk(set, 10));
  const setname = resolve('CLIENT SETNAME x')!;
  t.ok(arityOk(setname, 3));
  t.notOk(arityOk(setname, 2));
  t.notOk(arityOk(setname, 4));
});

t.test('ids are dense from 1, names and ids unique', async (t) => {
  const names = new Set<string>();
  ALL_COMMANDS.forEach((spec, i) => {
    t.equal(spec.id, i + 1, `${spec.name} id`);
    t.equal(specById(spec.id), spec);
    t.notOk(names.has(spec.name), `${spec.name} is unique`);
    names.add(spec.name);
    t.equal(spec.name, spec.name.toLowerCase());
  });
  t.equal(specById(0), undefined);
  t.equal(specById(ALL_COMMANDS.length + 1), undefined);
  t.equal(new Set(COMMANDS).size, COMMANDS.length);
  t.ok(COMMANDS.length >= 240, 'the whole Redis 7 top-level command set');
  for (const spec of ALL_COMMANDS) {
    if (spec.parent !== undefined) {
      t.ok(spec.parent.subcommands?.includes(spec), `${spec.name} is listed by its container`);
      t.ok(spec.name.startsWith(`${spec.parent.name}|`));
      t.equal(spec.group, spec.parent.group);
    }
  }
});

t.test('every refused command says why, naming itself; no other command has a refusal', async (t) => {
  for (const spec of ALL_COMMANDS) {
    if (spec.route === 'refused') {
      t.type(spec.refusal, 'string', spec.name);
      t.ok((spec.refusal ?? '').length > 40, `${spec.name}: a reason, not a word`);
      const shown = spec.name.split('|')[0].toUpperCase();
      t.ok((spec.refusal ?? '').includes(shown), `${spec.name}: the reason names the command (${spec.refusal})`);
      t.notOk(/^ERR/.test(spec.refusal ?? ''), `${spec.name}: the proxy adds the ERR prefix`);
    } else {
      t.equal(spec.refusal, undefined, spec.name);
    }
  }
});

t.test('routes agree with key layouts and flags', async (t) => {
  for (const spec of ALL_COMMANDS) {
    const k = spec.keys;
    const what = `${spec.name} (${spec.route}, ${k.kind})`;
    switch (spec.route) {
      case 'single':
        t.ok(k.kind === 'range' && k.first === k.last && k.first > 0, `${what}: one fixed key`);
        break;
      case 'same-node':
        t.not(k.kind, 'none', `${what}: has keys`);
        t.ok(k.kind !== 'range' || k.first !== k.last, `${what}: several keys (else 'single')`);
        break;
      case 'split-concat':
      case 'split-sum':
        t.same(k, { kind: 'range', first: 1, last: -1, step: 1 }, what);
        break;
      case 'split-pairs':
        t.same(k, { kind: 'range', first: 1, last: -1, step: 2 }, what);
        break;
      case 'proxy':
        // WATCH is routed by the proxy itself (a pinned connection to its keys' datastore): its keys say where.
        if (spec.name === 'watch') {
          t.same(k, { kind: 'range', first: 1, last: -1, step: 1 }, what);
          break;
        }
        t.equal(k.kind, 'none', `${what}: keyless`);
        break;
      case 'broadcast':
      case 'broadcast-sum':
      case 'keyless':
      case 'keyspace':
        t.equal(k.kind, 'none', `${what}: keyless`);
        break;
      case 'refused':
        break;
    }
    // A pub/sub command would hold a shared backend connection: refused. A blocking one is keyed (it runs on a connection of its own).
    if ((spec.flags & F_PUBSUB) !== 0) t.ok(spec.route === 'pubsub' || spec.route === 'refused' || spec.route === 'keyspace', `${what}: pub/sub, keyspace (PUBSUB CHANNELS ...) or refused`);
    if ((spec.flags & F_BLOCKING) !== 0 && spec.route !== 'refused') t.equal(spec.route, 'same-node', `${what}: keyed, one datastore`);
    t.notOk((spec.flags & F_WRITE) !== 0 && (spec.flags & F_READONLY) !== 0, `${spec.name}: not both read and write`);
  }
});

t.test('read/write classification that Dynomite got wrong', async (t) => {
  for (const w of ['sunionstore', 'zunionstore', 'zinterstore', 'sinterstore', 'sdiffstore', 'zdiffstore', 'zrangestore', 'geosearchstore', 'sort', 'pfadd', 'pfmerge', 'eval', 'evalsha', 'fcall', 'xreadgroup']) {
    t.ok(isWrite(resolve(w)!), `${w} is a write`);
  }
  for (const r of ['ttl', 'pttl', 'pfcount', 'get', 'mget', 'exists', 'sort_ro', 'eval_ro', 'evalsha_ro', 'fcall_ro', 'xread', 'georadius_ro', 'object', 'type']) {
    const spec = r === 'object' ? resolve('OBJECT ENCODING k')! : resolve(r)!;
    t.notOk(isWrite(spec), `${spec.name} is a read`);
  }
});

t.test('routing decisions of the brief', async (t) => {
  const route = (s: string) => resolve(s)?.route;
  t.equal(route('MGET a'), 'split-concat');
  for (const s of ['DEL', 'UNLINK', 'EXISTS', 'TOUCH']) t.equal(route(`${s} a`), 'split-sum', s);
  t.equal(route('MSET a 1'), 'split-pairs');
  for (const s of ['RENAME', 'SMOVE', 'LMOVE', 'SINTERSTORE', 'SUNIONSTORE', 'ZUNIONSTORE', 'EVAL', 'MSETNX', 'BITOP', 'PFMERGE', 'SORT', 'GEORADIUS', 'XREAD', 'COPY']) {
    t.equal(route(s), 'same-node', s);
  }
  for (const s of ['PING', 'ECHO', 'QUIT', 'SELECT', 'INFO', 'HELLO', 'AUTH', 'MULTI', 'EXEC', 'DISCARD', 'RESET', 'TIME', 'COMMAND', 'WATCH', 'UNWATCH']) t.equal(route(s), 'proxy', s);
  for (const s of ['CLIENT SETNAME', 'CLIENT GETNAME', 'CLIENT ID', 'CLIENT INFO', 'CLIENT SETINFO']) t.equal(route(s), 'proxy', s);
  for (const s of ['BLPOP', 'BRPOP', 'BLMOVE', 'BZPOPMIN', 'BLMPOP', 'BRPOPLPUSH']) t.equal(route(s), 'same-node', s);
  for (const s of ['SCRIPT LOAD', 'SCRIPT FLUSH', 'FUNCTION LOAD']) t.equal(route(s), 'broadcast', s);
  for (const s of ['DBSIZE', 'SCAN', 'KEYS', 'RANDOMKEY', 'FLUSHALL', 'FLUSHDB', 'PUBSUB NUMSUB', 'PUBSUB SHARDNUMSUB']) t.equal(route(s), 'keyspace', s);
  for (const s of ['SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'PUBLISH', 'SPUBLISH', 'UNSUBSCRIBE']) t.equal(route(s), 'pubsub', s);
  for (const s of ['CLUSTER INFO', 'MONITOR', 'SHUTDOWN', 'CONFIG SET', 'REPLICAOF', 'MIGRATE', 'WAIT', 'WAITAOF', 'DEBUG', 'CLIENT REPLY']) {
    t.equal(route(s), 'refused', s);
  }
});
