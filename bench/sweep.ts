// Shortcut for `npm run bench -- sweep [options]`: dynoproxy data workers 1 .. 2x cores, and the count `auto` should pick.
// Never measures anything itself; every option goes to bench/run.ts unchanged.
process.argv.splice(2, 0, 'sweep');
await import('./run.ts');
