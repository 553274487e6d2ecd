#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx svd-web` works right after `npm install` with no build step.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';

register();
const entry = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
await import(entry);
