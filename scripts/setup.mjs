#!/usr/bin/env node
/**
 * Idempotent "set up what is missing" for svd-web. Run by `npm test` and `npm start`; safe to run any time.
 *
 * 1. Node version check (vite 8 needs Node >= 20.19).
 * 2. `npm ci` when node_modules is missing or does not match package-lock.json. "Does not match" is decided by
 *    content, not only by mtime: every package pinned in package-lock.json must be present in npm's hidden
 *    lockfile (node_modules/.package-lock.json) with the same version. (Pure mtime checks misfire when the lockfile
 *    is touched by git checkouts or rewritten by `npm install` after node_modules.)
 * 3. Chromium for the browser tests (/usr/bin/chromium, Debian package, or $CHROMIUM_PATH). npm scripts do NOT
 *    install system packages on developer machines: we print the command instead. Only when running as root with
 *    CI set (a throw-away CI container) do we `apt-get install -y chromium ffmpeg` ourselves. `.ci/run` installs them
 *    before calling `npm test`, so in CI this is only a fallback.
 * 4. ffprobe (Debian `ffmpeg`) is optional: the e2e video test skips its container checks without it.
 *
 * Flags: --check (report only, never install; exit 1 if node_modules is stale), --quiet.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const checkOnly = args.has('--check');
const quiet = args.has('--quiet');
const log = (msg) => {
  if (!quiet) console.log(`[setup] ${msg}`);
};
const warn = (msg) => console.warn(`[setup] ${msg}`);

// 1. Node
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`[setup] Node ${process.versions.node} is too old: vite 8 needs Node >= 20.19.`);
  process.exit(1);
}

// 2. node_modules
function nodeModulesProblem() {
  const lockPath = join(root, 'package-lock.json');
  const hiddenPath = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(join(root, 'node_modules'))) return 'node_modules is missing';
  if (!existsSync(lockPath)) return null; // nothing to compare against
  if (!existsSync(hiddenPath)) return 'node_modules/.package-lock.json is missing (not installed by npm 7+)';
  const lock = JSON.parse(readFileSync(lockPath, 'utf8')).packages ?? {};
  const hidden = JSON.parse(readFileSync(hiddenPath, 'utf8')).packages ?? {};
  for (const [key, entry] of Object.entries(lock)) {
    if (!key.startsWith('node_modules/') || entry.link) continue;
    const have = hidden[key];
    if (!have) {
      // Optional (platform-specific) packages are legitimately absent.
      if (entry.optional || entry.devOptional || entry.peer) continue;
      return `${key.slice('node_modules/'.length)} is not installed`;
    }
    if (entry.version && have.version !== entry.version) {
      return `${key.slice('node_modules/'.length)} is ${have.version}, package-lock.json wants ${entry.version}`;
    }
  }
  return null;
}

const problem = nodeModulesProblem();
if (problem) {
  if (checkOnly) {
    console.error(`[setup] ${problem}: run \`npm ci\``);
    process.exit(1);
  }
  log(`${problem}: running npm ci`);
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  if (r.status !== 0) {
    console.error('[setup] npm ci failed');
    process.exit(r.status ?? 1);
  }
} else {
  log('node_modules matches package-lock.json');
}

// 2b. The bundled demo model (tiny random weights compiled by our own compiler), served at /models/tiny-random/
if (!checkOnly) {
  const r = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'scripts', 'build-demo-model.ts')], { cwd: root, stdio: quiet ? 'ignore' : 'inherit' });
  if (r.status !== 0) {
    console.error('[setup] building the demo model failed (scripts/build-demo-model.ts)');
    process.exit(r.status ?? 1);
  }
}

// 3./4. System tools for the browser tests
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const has = (cmd) => spawnSync(cmd, ['-version'], { stdio: 'ignore' }).status === 0;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false';
const missing = [];
if (!existsSync(chromium)) missing.push('chromium');
if (!has('ffprobe')) missing.push('ffmpeg');

if (missing.length && !checkOnly && inCi && isRoot && existsSync('/usr/bin/apt-get')) {
  log(`CI as root: apt-get install -y ${missing.join(' ')}`);
  execFileSync('apt-get', ['update'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
} else {
  if (!existsSync(chromium)) {
    warn(
      `${chromium} not found: the browser tests (npm run test:e2e) need Debian Chromium with WebGPU.\n` +
        '         Install it with:  sudo apt-get update && sudo apt-get install -y chromium\n' +
        '         (or point CHROMIUM_PATH at another Chromium >= 120). Playwright browser downloads are not used.',
    );
  } else {
    log(`chromium: ${chromium}`);
  }
  if (!has('ffprobe')) {
    warn('ffprobe not found (optional): the e2e video test will skip its container checks. sudo apt-get install -y ffmpeg');
  }
}
