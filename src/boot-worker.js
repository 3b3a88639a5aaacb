// Worker thread entry: turns on the compile cache in this thread, then loads the worker module named in `workerData.entry`.
// Plain JavaScript on purpose: a .ts entry would load Node's TypeScript stripper (~30 MB per thread) before the cache could spare it.
import module from 'node:module';
import { workerData } from 'node:worker_threads';

module.enableCompileCache?.();
await import(workerData.entry);
