// The Dynomite classifier against the real parser's classes (/work/shared/vectors/dynomite-commands.json): the TS data equals the
// file, every listed command is accepted with a fitting argument count and refused with any other, everything else is refused.
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import t from 'tap';
import {
  ALL_COMMANDS, DYNOMITE_CLASSES, DYNOMITE_REWRITES, DYN_FITS, DYN_REFUSED, DYN_REWRITE, dynomiteFit, dynomiteRefusal, dynomiteRewriteOf,
  resolveCommand, arityOk, type CommandSpec,
} from '../../../src/commands/index.ts';
import { argv, line, type Argv } from './argv.ts';

interface JsonClass {
  class: string;
  arguments: string;
  commands: string[];
}
const json = JSON.parse(readFileSync('/work/shared/vectors/dynomite-commands.json', 'utf8')) as { classes: JsonClass[] };

t.test('the transcribed classes are exactly the JSON file\'s', async (t) => {
  t.same(
    DYNOMITE_CLASSES.map((c) => ({ class: c.class, commands: [...c.commands] })),
    json.classes.map((c) => ({ class: c.class, commands: c.commands })),
  );
});

/**
 * Arguments after the command name that fit each class (from the file's `arguments` wording), and some that do not.
 * The first argument is the key where the class has one. SCRIPT LOAD / EXISTS take their one argument without a key.
 */
const FITTING: Record<string, { ok: number[]; bad: number[] }> = {
  redis_argz: { ok: [0], bad: [1, 2] },
  redis_arg0: { ok: [1], bad: [0, 2, 3] },
  redis_arg1: { ok: [2], bad: [0, 1, 3, 4] },
  redis_arg_upto1: { ok: [0, 1], bad: [2, 3] },
  redis_arg2: { ok: [3], bad: [0, 1, 2, 4, 5] },
  redis_arg3: { ok: [4], bad: [0, 1, 3, 5] },
  redis_argn: { ok: [1, 2, 3, 7], bad: [0] },
  redis_argx: { ok: [1, 2, 5], bad: [0] },
  redis_argkvx: { ok: [2, 4, 6], bad: [0, 1, 3, 5] },
  // script, numkeys, keys, args: numkeys is the second argument and counts keys that follow.
  redis_argeval: { ok: [3, 4, 6], bad: [0, 1, 2] },
};

function request(name: string, after: number, cls: string): Argv {
  const words = name.split(' ');
  const args: string[] = [];
  for (let i = 0; i < after; i++) args.push(`a${i}`);
  if (cls === 'redis_argeval' && after >= 2) args[1] = String(Math.max(1, after - 2));
  return argv(...words, ...args);
}

function specOf(r: Argv): CommandSpec | undefined {
  return resolveCommand(r.buf, r.off, r.len, r.argc);
}

t.test('every listed command fits with a fitting argument count and is refused with any other', async (t) => {
  for (const c of json.classes) {
    const counts = FITTING[c.class];
    t.ok(counts !== undefined, `${c.class}: the test knows this class`);
    for (const name of c.commands) {
      const probe = specOf(request(name, 1, c.class));
      if (name.startsWith('JSON.')) {
        // RedisJSON module commands: not in our command table, so never routed (unknown command), never sent anywhere.
        t.equal(probe, undefined, `${name} is not a command dynoproxy routes`);
        continue;
      }
      if (name === 'CONFIG') {
        // Dynomite's CONFIG GET param (the container as a key): our table resolves CONFIG GET to its own subcommand,
        // which is never sent to a peer; the container alone maps to the class.
        t.equal(probe, undefined, 'CONFIG a0 is an unknown subcommand here');
        continue;
      }
      t.ok(probe !== undefined, `${name} is in our command table`);
      const keyless = c.class === 'redis_arg1' && name.startsWith('SCRIPT ');
      for (const after of keyless ? [1] : counts!.ok) {
        const r = request(name, after, c.class);
        const spec = specOf(r)!;
        t.equal(dynomiteFit(spec, r.buf, r.off, r.len, r.argc), DYN_FITS, `${name} with ${after} argument(s) fits ${c.class}`);
      }
      for (const after of keyless ? [0, 2, 3] : counts!.bad) {
        const r = request(name, after, c.class);
        const spec = specOf(r);
        if (spec === undefined) continue; // a container without its subcommand is another command
        t.equal(dynomiteFit(spec, r.buf, r.off, r.len, r.argc), DYN_REFUSED, `${name} with ${after} argument(s) is refused`);
        t.match(dynomiteRefusal(spec, r.buf, r.off, r.len, r.argc), /^Dynomite takes .* only with/, `${name}: the reason names the shape`);
      }
    }
  }
});

t.test('a command the file does not list is refused whatever its arguments, unless a rewrite fits', async (t) => {
  const listed = new Set<string>();
  for (const c of json.classes) for (const n of c.commands) listed.add(n.toLowerCase().replace(' ', '|'));
  const rewritten = new Set(DYNOMITE_REWRITES.map((r) => r.from));
  let checked = 0;
  for (const spec of ALL_COMMANDS) {
    if (listed.has(spec.name) || rewritten.has(spec.name) || spec.subcommands !== undefined) continue;
    const words = spec.name.split('|');
    for (const after of [0, 1, 2, 3, 5]) {
      const r = argv(...words, ...Array.from({ length: after }, (_, i) => `k${i}`));
      t.equal(dynomiteFit(spec, r.buf, r.off, r.len, r.argc), DYN_REFUSED, `${spec.name} + ${after}`);
    }
    const r = argv(...words, 'k');
    t.match(dynomiteRefusal(spec, r.buf, r.off, r.len, r.argc), /does not know/);
    checked++;
  }
  t.ok(checked > 150, `${checked} unlisted commands checked`);
});

function verdict(text: string): number {
  const r = line(text);
  const spec = specOf(r)!;
  t.ok(arityOk(spec, r.argc), `${text}: a valid Redis call`);
  return dynomiteFit(spec, r.buf, r.off, r.len, r.argc);
}

t.test('the forms the issue names', async (t) => {
  t.equal(verdict('HSET k f1 v1 f2 v2'), DYN_REFUSED, 'HSET with two pairs');
  t.equal(verdict('HSET k f1 v1'), DYN_FITS, 'HSET with one pair');
  t.equal(verdict('GETDEL k'), DYN_REFUSED);
  t.equal(verdict('UNLINK a b c'), DYN_REWRITE);
  t.equal(verdict('EXPIRE k 10 NX'), DYN_REFUSED, 'Redis 7 EXPIRE options');
  t.equal(verdict('LPOP k 2'), DYN_REFUSED, 'Redis 6.2 LPOP count');
  t.equal(verdict('SET k v EX 10 NX GET'), DYN_FITS, 'SET takes anything after its key');
  t.equal(verdict('mget a b'), DYN_FITS, 'lower case, as Dynomite\'s fragmenter sends it');
  t.equal(verdict('MSET a 1 b 2'), DYN_FITS);
  t.equal(verdict('DEL a'), DYN_FITS);
  t.equal(verdict('TOUCH a'), DYN_REFUSED, 'TOUCH also updates the access time: no rewrite');
  t.equal(verdict('PING'), DYN_FITS, 'the failure detector\'s PING');
  t.equal(verdict('SCRIPT LOAD body'), DYN_FITS);
  t.equal(verdict('SCRIPT FLUSH'), DYN_FITS);
  t.equal(verdict('SCRIPT FLUSH ASYNC'), DYN_REFUSED);
  t.equal(verdict('EVAL s 1 k'), DYN_FITS);
  t.equal(verdict('EVAL s 2 k1 k2 a b'), DYN_FITS);
  t.equal(verdict('EVAL s 0'), DYN_REFUSED, 'Dynomite needs at least one key');
  t.equal(verdict('EVAL s 0 a'), DYN_REFUSED);
  t.equal(verdict('EVAL_RO s 1 k'), DYN_REFUSED, 'EVAL_RO and EVAL differ when the script writes: no rewrite');
});

t.test('empty and over-long keys are parse errors in Dynomite', async (t) => {
  const get = argv('GET', '');
  t.equal(dynomiteFit(specOf(get)!, get.buf, get.off, get.len, get.argc), DYN_REFUSED);
  t.match(dynomiteRefusal(specOf(get)!, get.buf, get.off, get.len, get.argc), /empty key/);
  const mget = argv('MGET', 'a', '', 'b');
  t.equal(dynomiteFit(specOf(mget)!, mget.buf, mget.off, mget.len, mget.argc), DYN_REFUSED, 'any empty key of MGET');
  const mset = argv('MSET', 'a', '', 'b', '');
  t.equal(dynomiteFit(specOf(mset)!, mset.buf, mset.off, mset.len, mset.argc), DYN_FITS, 'empty values are fine');
  const set = argv('SET', 'k', '');
  t.equal(dynomiteFit(specOf(set)!, set.buf, set.off, set.len, set.argc), DYN_FITS, 'an empty value is fine');
  const long = argv('GET', 'x'.repeat(100));
  t.equal(dynomiteFit(specOf(long)!, long.buf, long.off, long.len, long.argc, 100), DYN_FITS, 'at the bound');
  t.equal(dynomiteFit(specOf(long)!, long.buf, long.off, long.len, long.argc, 99), DYN_REFUSED, 'over the bound');
  t.match(dynomiteRefusal(specOf(long)!, long.buf, long.off, long.len, long.argc, 99), /longer than 99 bytes/);
});

t.test('rewrites: only where meaning and reply are the same, and the result fits', async (t) => {
  const cases: [string, string | undefined, number][] = [
    ['UNLINK a b', 'del', -1],
    ['SUBSTR k 0 3', 'getrange', -1],
    ['GETEX k', 'get', 2],
    ['GETEX k PERSIST', undefined, 0],
    ['LMOVE a b RIGHT LEFT', 'rpoplpush', 3],
    ['lmove a b right left', 'rpoplpush', 3],
    ['LMOVE a b LEFT RIGHT', undefined, 0],
  ];
  for (const [text, to, keep] of cases) {
    const r = line(text);
    const spec = specOf(r)!;
    const rw = dynomiteRewriteOf(spec, r.buf, r.off, r.len, r.argc);
    t.equal(rw?.to, to, text);
    t.equal(dynomiteFit(spec, r.buf, r.off, r.len, r.argc), to === undefined ? DYN_REFUSED : DYN_REWRITE, `${text}: verdict`);
    if (rw !== undefined) t.equal(rw.keep, keep);
  }
  const empty = argv('UNLINK', 'a', '');
  t.equal(dynomiteFit(specOf(empty)!, empty.buf, empty.off, empty.len, empty.argc), DYN_REFUSED, 'a rewrite must fit too');
});

t.test('dynomiteFit allocates nothing', async (t) => {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  t.teardown(() => observer.disconnect());
  const reqs = ['GET user:1000', 'SET k v EX 10', 'MGET a b c', 'MSET a 1 b 2', 'HSET k f1 v1 f2 v2', 'UNLINK a b', 'EVAL s 1 k a', 'LMOVE a b RIGHT LEFT'].map(line);
  const specs = reqs.map((r) => specOf(r)!);
  let sink = 0;
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const j = i % reqs.length;
      const r = reqs[j];
      sink += dynomiteFit(specs[j], r.buf, r.off, r.len, r.argc);
      if (dynomiteRewriteOf(specs[j], r.buf, r.off, r.len, r.argc) !== undefined) sink++;
    }
  };
  run(50_000);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const before = gcs;
  run(1_000_000);
  await new Promise((resolve) => setTimeout(resolve, 30));
  t.equal(gcs - before, 0, `no GC in a million classifications (sink ${sink})`);
});
