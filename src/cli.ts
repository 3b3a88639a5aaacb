// Command line entry: turns on V8's on-disk compile cache, then loads the real entry (main.ts).
// Never imports anything else statically: modules loaded before the cache is on would not use it.
import module from 'node:module';

// A worker thread or a second start reuses compiled code: startup drops by about half.
module.enableCompileCache?.();
await import('./main.ts');
