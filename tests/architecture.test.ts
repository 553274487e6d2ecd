/**
 * The house rules, checked on the source tree itself (docs/architecture.md): which room may import which, and
 * how long a file may grow. Reads every module's static imports; a rule broken names the file and the import.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...filesUnder(path));
    else if (/\.(ts|tsx)$/.test(name)) out.push(path);
  }
  return out;
}

/** Every relative import of a module (static, dynamic, `new URL(…, import.meta.url)`), as repo-relative paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
}

const SOURCES = [...filesUnder('src'), ...filesUnder('workers')];

describe('architecture', () => {
  it('finds the modules it checks', () => {
    expect(SOURCES.length).toBeGreaterThan(80);
    expect(importsOf('src/store/app-store.ts')).toContain('src/engine/worker-engine.ts');
  });

  it('the UI reads the store and the contract only: no import of models/, hub/, convert/, pipeline/, runtime/, engine/ or remote code', () => {
    const forbidden = /^src\/(models|hub|convert|compiler|pipeline|runtime|engine|remote)\//;
    const broken = SOURCES.filter((f) => f.startsWith('src/ui/'))
      .flatMap((f) => importsOf(f).filter((i) => forbidden.test(i)).map((i) => `${f} imports ${i}`));
    expect(broken).toEqual([]);
  });

  it('only the in-process engine runs the pipeline (the store reads its framing plan); nobody takes contract types from it', () => {
    const allowed = new Set(['src/engine/in-process.ts', 'src/store/view.ts']);
    const broken = SOURCES.filter((f) => !f.startsWith('src/pipeline/') && !allowed.has(f))
      .flatMap((f) => importsOf(f).filter((i) => i.startsWith('src/pipeline/')).map((i) => `${f} imports ${i}`));
    expect(broken).toEqual([]);
  });

  it('the contract depends on nothing but itself and common/', () => {
    const broken = SOURCES.filter((f) => f.startsWith('src/contract/'))
      .flatMap((f) => importsOf(f).filter((i) => !/^src\/(contract|common)\//.test(i)).map((i) => `${f} imports ${i}`));
    expect(broken).toEqual([]);
  });

  it('the workers are entry points only: each hands its messages to a handler', () => {
    for (const f of SOURCES.filter((s) => s.startsWith('workers/'))) {
      const lines = readFileSync(join(ROOT, f), 'utf8').split('\n').length;
      expect(lines, f).toBeLessThanOrEqual(150);
    }
    expect(readFileSync(join(ROOT, 'workers/generate.worker.ts'), 'utf8').split('\n').length).toBeLessThanOrEqual(20);
  });

  it('no file under src/ or workers/ is over 400 lines, except the network builders and the resize kernels', () => {
    const exempt = (f: string) => f.startsWith('src/compiler/architectures/') || f === 'src/numerics/resize.ts';
    const long = SOURCES.filter((f) => !exempt(f))
      .map((f) => ({ f, lines: readFileSync(join(ROOT, f), 'utf8').split('\n').length }))
      .filter((x) => x.lines > 400)
      .map((x) => `${x.f}: ${x.lines} lines`);
    expect(long).toEqual([]);
  });
});
