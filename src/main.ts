// The dynoproxy command: `dynoproxy -c FILE [--workers auto|N] [--log-level L] [--test-config]` (loaded by cli.ts).
// Never starts serving with a config it could not fully validate.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig, ConfigError } from './config/index.ts';
import { Supervisor } from './supervisor.ts';
import { decommission } from './decommission.ts';

const USAGE = `usage: dynoproxy -c FILE [--workers auto|N] [--log-level trace|debug|info|warn|error] [-t|--test-config]
       dynoproxy -c FILE --decommission [--pool NAME] [--timeout SECONDS]

  -c, --conf-file FILE   Dynomite-style YAML (twemproxy nutcracker.yml keys understood too)
  -w, --workers auto|N   data worker threads (auto = one per core)
  -t, --test-config      validate the configuration and exit
  --decommission         ask the running node of FILE (its admin port) to leave the ring, handing its range to its
                         rack's other nodes, and follow it until it left (exit 0; --timeout, default 3600 s)
  -v, --version          print the version
`;

function main(): void {
  let args;
  try {
    args = parseArgs({
      options: {
        'conf-file': { type: 'string', short: 'c' },
        workers: { type: 'string', short: 'w', default: 'auto' },
        'log-level': { type: 'string', default: process.env.DYNOPROXY_LOG_LEVEL ?? 'info' },
        'test-config': { type: 'boolean', short: 't', default: false },
        decommission: { type: 'boolean', default: false },
        pool: { type: 'string' },
        timeout: { type: 'string', default: '3600' },
        version: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`dynoproxy: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.version) {
    process.stdout.write('dynoproxy 0.1.0\n');
    return;
  }
  const file = args['conf-file'];
  if (file === undefined) {
    process.stderr.write(`dynoproxy: -c FILE is required\n${USAGE}`);
    process.exit(2);
  }
  const w = args.workers;
  const workers = w === 'auto' ? 'auto' : Number(w);
  if (workers !== 'auto' && (!Number.isInteger(workers) || workers < 1 || workers > 256)) {
    process.stderr.write(`dynoproxy: --workers must be 'auto' or an integer from 1 to 256 (got ${w})\n`);
    process.exit(2);
  }
  const log = pino({ level: args['log-level'], base: { pid: process.pid } });
  let config;
  try {
    config = loadConfig(file);
  } catch (err) {
    process.stderr.write(`dynoproxy: ${err instanceof ConfigError ? err.message : `cannot load ${file}: ${(err as Error).message}`}\n`);
    process.exit(1);
  }
  for (const warning of config.warnings) log.warn(warning);
  if (args['test-config']) {
    process.stdout.write(`dynoproxy: configuration file '${file}' syntax is ok\n`);
    return;
  }
  if (args.decommission) {
    const pool = args.pool === undefined ? config.pools[0] : config.pools.find((p) => p.name === args.pool);
    const timeout = Number(args.timeout);
    if (pool === undefined || !Number.isInteger(timeout) || timeout < 1) {
      process.stderr.write(`dynoproxy: ${pool === undefined ? `no pool named '${args.pool}' in ${file}` : `--timeout must be a positive number of seconds (got ${args.timeout})`}\n`);
      process.exit(2);
    }
    void decommission(pool, timeout, (line) => process.stdout.write(`${line}\n`)).then((code) => process.exit(code));
    return;
  }
  const sup = new Supervisor({ configPath: file, workers, log, testHooks: process.env.DYNOPROXY_TEST_HOOKS === '1' }, config);
  sup.start().then(
    () => {
      for (const p of config.pools) log.info({ pool: p.name, listen: `${p.listen.host}:${p.listen.port}`, servers: p.servers.length, workers: sup.workerCount }, 'listening');
    },
    (err: Error) => {
      log.error(err.message);
      void sup.shutdown(1000).then(() => process.exit(1));
    },
  );
  const stop = (sig: string): void => {
    log.info({ signal: sig }, 'draining');
    void sup.shutdown().then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => sup.reload());
}

main();
