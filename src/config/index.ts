// Public face of config/: load Dynomite or twemproxy YAML into validated, defaulted PoolConfigs.
// Must never export the internal tables (keys, defaults); callers see only plain data and ConfigError.

export { ConfigError } from './config-error.ts';
export { loadConfig } from './load-config.ts';
export { readMovedTokens, writeMovedTokens, movedTokensPath, type MovedTokens } from './moved-tokens.ts';
export { parseConfig, isLoopbackHost } from './parse-config.ts';
export { parseSeed } from './parse-address.ts';
export { ACL_CATEGORIES, type UserConf } from './parse-user.ts';
export { topologyFromConfig, createClusterTable } from './cluster-topology.ts';
export { CONSISTENCIES, DISTRIBUTIONS, SECURE_SERVER_OPTIONS, PEER_COMPATS } from './pool-config.ts';
export type {
  ConfigStyle,
  Consistency,
  DataStore,
  Distribution,
  DynSeed,
  HashName,
  HostPort,
  LoadedConfig,
  PeerCompat,
  PoolConfig,
  SecureServerOption,
  ServerConf,
  TlsMaterial,
  BackendTlsConf,
} from './pool-config.ts';
