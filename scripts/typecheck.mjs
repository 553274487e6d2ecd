#!/usr/bin/env node
// Type-checks the four TypeScript programs (DOM app, worker, Node, e2e: their libs must not mix) side by side, as many
// at once as there are cores; each program's errors are printed together, and any failure fails the whole check.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';

const PROGRAMS = ['tsconfig.json', 'tsconfig.worker.json', 'tsconfig.node.json', 'tsconfig.e2e.json'];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function check(project) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [tsc, '-p', project], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ project, code, output, seconds: (Date.now() - started) / 1000 }));
  });
}

const queue = [...PROGRAMS];
const results = [];
await Promise.all(
  Array.from({ length: Math.min(PROGRAMS.length, Math.max(1, availableParallelism())) }, async () => {
    for (let project = queue.shift(); project; project = queue.shift()) {
      const r = await check(project);
      results.push(r);
      console.log(`[typecheck] ${project}: ${r.code === 0 ? 'ok' : 'errors'} (${r.seconds.toFixed(1)} s)`);
      if (r.output.trim()) console.log(r.output.trimEnd());
    }
  }),
);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
