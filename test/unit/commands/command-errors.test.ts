// Tests of Redis' wording for unknown commands, unknown subcommands and wrong arity, built from request bytes.
// Pure: redis-server.test.ts compares the same texts with a real server's replies.
import t from 'tap';
import { unknownCommandError, wrongArityError, resolveCommand } from '../../../src/commands/index.ts';
import { argv, line } from './argv.ts';

function unknown(a: ReturnType<typeof argv>): string {
  return unknownCommandError(a.buf, a.off, a.len, a.argc);
}

t.test('unknown command lists the first arguments as Redis 7 does', async (t) => {
  t.equal(unknown(line('FOO a b')), "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
  t.equal(unknown(line('foo')), "ERR unknown command 'foo', with args beginning with: ");
  // Arguments are listed while the list is under 128 bytes; each is cut to what is left.
  const long = 'x'.repeat(200);
  t.equal(unknown(argv('foo', long, 'b')), `ERR unknown command 'foo', with args beginning with: '${'x'.repeat(128)}' `);
  const many = unknown(argv('foo', ...Array.from({ length: 100 }, () => 'abcdefghij')));
  const listed = many.slice(many.indexOf(': ') + 2);
  t.ok(listed.length >= 128 && listed.length < 128 + 14, `stops after 128 bytes (${listed.length})`);
  t.equal(unknown(argv('n'.repeat(300))), `ERR unknown command '${'n'.repeat(128)}', with args beginning with: `);
});

t.test('unknown command text cannot break the protocol and keeps bytes as latin1', async (t) => {
  const s = unknown(argv('fo\r\no', 'a\nb'));
  t.notMatch(s, /[\r\n]/);
  t.equal(s, "ERR unknown command 'fo  o', with args beginning with: 'a b' ");
  const bin = unknown(argv(Buffer.from([0x66, 0xff, 0xe9]), 'x'));
  t.same(Array.from(Buffer.from(bin, 'latin1').subarray(21, 24)), [0x66, 0xff, 0xe9], 'one char per byte');
  t.equal(unknown(argv('ab\0cd', 'x\0y')), "ERR unknown command 'ab', with args beginning with: 'x' ", "C's %s stops at NUL");
});

t.test('unknown subcommand of a container', async (t) => {
  t.equal(unknown(line('CLIENT FOO bar')), "ERR unknown subcommand 'FOO'. Try CLIENT HELP.");
  t.equal(unknown(line('client foo')), "ERR unknown subcommand 'foo'. Try CLIENT HELP.");
  t.equal(unknown(line('Object foo k')), "ERR unknown subcommand 'foo'. Try OBJECT HELP.");
  t.equal(unknown(line('xinfo x')), "ERR unknown subcommand 'x'. Try XINFO HELP.");
  // A container named alone is not unknown: it resolves, and its arity fails.
  const a = line('CLIENT');
  t.equal(resolveCommand(a.buf, a.off, a.len, a.argc)?.name, 'client');
});

t.test('wrong arity names the command as Redis 7 does, subcommands with a bar', async (t) => {
  const name = (s: string) => {
    const a = line(s);
    return wrongArityError(resolveCommand(a.buf, a.off, a.len, a.argc)!);
  };
  t.equal(name('GET'), "ERR wrong number of arguments for 'get' command");
  t.equal(name('CLIENT SETNAME'), "ERR wrong number of arguments for 'client|setname' command");
  t.equal(name('CLIENT'), "ERR wrong number of arguments for 'client' command");
});
