// Cluster-only configuration rules: what a cluster node's file may not combine, with file:line and the key.
// Pure: parses YAML text only.
import t from 'tap';
import { parseConfig, ConfigError } from '../../../src/config/index.ts';

t.test('a memcached pool cannot be a cluster node (yet)', async (t) => {
  const yaml = 'mc:\n  listen: 127.0.0.1:9000\n  dyn_listen: 127.0.0.1:9001\n  data_store: 1\n  servers:\n  - 127.0.0.1:11211:1\n';
  const err = t.throws(() => parseConfig(yaml, 'mc.yml')) as unknown as ConfigError;
  t.ok(err instanceof ConfigError);
  t.equal(err.key, 'dyn_listen');
  t.equal(err.line, 3);
  t.match(err.message, /^mc\.yml:3: mc\.dyn_listen: .*memcached/);
});

t.test('secure_server_option other than none is refused', async (t) => {
  const yaml = 'n:\n  listen: 127.0.0.1:9000\n  dyn_listen: 127.0.0.1:9001\n  secure_server_option: all\n  servers:\n  - 127.0.0.1:6379:1\n';
  t.throws(() => parseConfig(yaml, 'n.yml'), /n\.yml:4: n\.secure_server_option: only none is supported/);
});
