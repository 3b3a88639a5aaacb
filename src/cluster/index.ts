// Public face of cluster: the cluster worker (failure detection, remote-DC writes, warm-up) and its host in the main thread.
// Never exposes the worker's own modules: they run in the cluster worker thread only.
export { ClusterHost } from './cluster-host.ts';
