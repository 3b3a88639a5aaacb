// Public face of the admin part: the HTTP admin/stats server and the host shape it needs.
// Never imported by data workers: everything here runs on the main thread.
export { AdminServer, isLoopbackHost, type AdminServerOptions } from './admin-server.ts';
export type { AdminHost, ClusterServer, ClusterKeying } from './admin-host.ts';
export { route, repairStart, ringMove, HELP_TEXT, type Action } from './admin-routes.ts';
export { RateLimiter, type RateLimit } from './rate-limiter.ts';
