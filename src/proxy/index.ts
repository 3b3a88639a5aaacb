// Public face of proxy: the data worker — client and peer connections, RESP and memcached, cluster routing — runs in worker threads;
// what the main thread needs of it is where its entry module is. Never imports the worker code itself (that would run it here).

/** The data worker's entry module (worker.ts), for `new Worker(boot-worker.js, { workerData: { entry } })`. */
export const DATA_WORKER_ENTRY = new URL('./worker.ts', import.meta.url).href;
