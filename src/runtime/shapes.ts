/**
 * Fixing a graph's symbolic dimensions from the shapes of the inputs a loop will feed it. ORT's
 * `freeDimensionOverrides` takes symbolic names; the manifest records each input's dimensions as compiled
 * (numbers, or the names the compiler gave them), so the names follow from the shapes.
 */
import type { ManifestGraph } from '../contract/manifest.ts';

export type InputDims = NonNullable<ManifestGraph['inputs']>;

/** `{ batch: 2, frames: 14, … }` for these input shapes; an error names any input or dimension that disagrees. */
export function staticDimensions(graph: string, inputs: InputDims, shapes: Record<string, readonly number[]>): Record<string, number> {
  const fixed: Record<string, number> = {};
  const seenAt: Record<string, string> = {};
  for (const [name, dims] of Object.entries(inputs)) {
    const shape = shapes[name];
    if (!shape) throw new Error(`${graph}: no shape given for input "${name}"`);
    if (shape.length !== dims.length) throw new Error(`${graph}: input "${name}" has rank ${dims.length} ([${dims.join(', ')}]); the shape given is [${shape.join(', ')}]`);
    dims.forEach((d, i) => {
      const n = shape[i];
      const where = `input "${name}" dimension ${i}`;
      if (typeof d === 'number') {
        if (d !== n) throw new Error(`${graph}: ${where} is fixed at ${d}; the shape given has ${n}`);
        return;
      }
      if (d in fixed && fixed[d] !== n) throw new Error(`${graph}: "${d}" is ${fixed[d]} at ${seenAt[d]} but ${n} at ${where}`);
      fixed[d] = n;
      seenAt[d] = where;
    });
  }
  for (const name of Object.keys(shapes)) if (!(name in inputs)) throw new Error(`${graph}: has no input "${name}"`);
  return fixed;
}
