// usage: node .prof/mv.mjs old1=new1 old2=new2 ...   (paths relative to repo root). Does git mv and rewrites imports.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
const root = process.cwd();
const pairs = process.argv.slice(2).map((a) => a.split('=').map((p) => path.resolve(root, p)));
const map = new Map(pairs);
for (const [o, n] of pairs) { fs.mkdirSync(path.dirname(n), { recursive: true }); execSync(`git mv ${o} ${n}`); }
const files = execSync("git ls-files '*.ts' '*.tsx' '*.mjs' '*.html'", { encoding: 'utf8' }).split('\n').filter(Boolean).map((f) => path.resolve(root, f));
const inv = new Map(pairs.map(([o, n]) => [n, o]));
for (const file of files) {
  const src = fs.readFileSync(file, 'utf8');
  const oldFile = inv.get(file) ?? file; // where this file was, for resolving its own relative imports
  const out = src.replace(/(from\s+|import\s*\(\s*|import\s+|new URL\(\s*|vi\.mock\(\s*)(['"])(\.{1,2}\/[^'"]+)\2/g, (m, pre, q, spec) => {
    const target = path.resolve(path.dirname(oldFile), spec);
    const dest = map.get(target) ?? target;
    let rel = path.relative(path.dirname(file), dest);
    if (!rel.startsWith('.')) rel = './' + rel;
    return `${pre}${q}${rel}${q}`;
  });
  if (out !== src) fs.writeFileSync(file, out);
}
