// Worker thread entry: turns on the compile cache in this thread, then loads the worker module named in `workerData.entry`.
// Never imports anything else statically, for the same reason as cli.ts.
import module from 'node:module';
import { workerData } from 'node:worker_threads';

module.enableCompileCache?.();
await import((workerData as { entry: string }).entry);
