#!/usr/bin/env node
// The package's `bin`: runs src/cli.ts on a Node that can (>= 22.18: TypeScript type stripping, reusePort).
// An older system Node re-executes the pinned runtime from the `node` devDependency instead of failing.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'src', 'cli.ts');
const [major, minor] = process.versions.node.split('.').map(Number);

if (major > 22 || (major === 22 && minor >= 18)) {
  // Before the first .ts module: with a warm cache Node never loads its TypeScript stripper here.
  (await import('node:module')).default.enableCompileCache?.();
  await import(cli);
} else {
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(`dynoproxy needs Node >= 22.18 (this is ${process.version}); run 'npm install' to get the pinned runtime\n`);
    process.exit(1);
  }
  const child = spawn(pinned, [cli, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
