// Data worker thread entry: owns its client and backend sockets for every pool, on its own event loop.
// Never shares a socket or a request with another thread; only plain messages cross.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerData, ToWorker, FromWorker } from '../messages.ts';
import { PoolRuntime } from './pool.ts';
import { closeRangeConnections } from './peer/peer-range.ts';
import { setGossipDigest } from './peer/peer-gossip.ts';
import { numsubAnswered, reportNumsub } from './worker-events.ts';
import { closeRepairConnections } from './peer/peer-repair.ts';
import { closeMemcacheRangeConnections } from './peer/peer-memcache-range.ts';
import { setTestHooks } from './resp/resp-dispatch.ts';
import { setWorkerEventSink } from './worker-events.ts';
import { WorkerStatsView, poolShapes } from '../stats/index.ts';

const data = workerData as WorkerData;
const port = parentPort;
if (port === null) throw new Error('dynoproxy: proxy/worker.ts must run in a worker thread');

function post(m: FromWorker): void {
  port?.postMessage(m);
}

setTestHooks(data.testHooks);
setWorkerEventSink(data.workerId, post);
const statsView = new WorkerStatsView(data.statsSab, poolShapes(data.pools));
const pools = data.pools.map((p, i) => new PoolRuntime(p, data.workerId, data.workers, data.style, statsView.pools[i], data.cluster, data.controlSab));

Promise.all(pools.map((p) => p.listen())).then(
  () => post({ type: 'listening', workerId: data.workerId }),
  (err: NodeJS.ErrnoException) => {
    post({ type: 'listen-failed', workerId: data.workerId, code: err.code ?? 'ERR', message: err.message });
    process.exit(1);
  },
);

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'drain':
      Promise.all(pools.map((p) => p.drain(m.deadlineMs))).then(() => {
        closeRangeConnections();
        closeRepairConnections();
        closeMemcacheRangeConnections();
        post({ type: 'drained', workerId: data.workerId });
        // In a worker thread this ends the thread only; idle keep-alive handles must not hold it.
        process.exit(0);
      });
      break;
    case 'reload':
      for (const p of pools) {
        const next = m.pools.find((q) => q.name === p.config.name);
        if (next !== undefined) p.reload(next, data.workers);
      }
      break;
    case 'gossip-digest':
      setGossipDigest(m.payload);
      break;
    case 'numsub-count': {
      const p = pools.find((x) => x.config.name === m.pool);
      reportNumsub(m.reqId, m.names.map((n) => (p === undefined ? 0 : p.pubsub().count(m.kind, n))));
      break;
    }
    case 'numsub-answer':
      numsubAnswered(m.reqId, m.counts);
      break;
    case 'histograms':
      post({
        type: 'histograms',
        workerId: data.workerId,
        reqId: m.reqId,
        latency: pools.map((p) => p.latencySnapshot(m.reset)),
        cross: pools.map((p) => p.crossSnapshot(m.reset)),
      });
      break;
  }
});
