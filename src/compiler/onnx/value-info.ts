/**
 * Symbolic shapes of every intermediate value, written into the graph's `value_info`.
 *
 * Why: onnxruntime's allocation planner (allocation_planner.cc, FindReusableTensor) looks for a dead buffer of the
 * same size for each output by scanning every buffer freed so far, and compares sizes only when both shapes are
 * known: equal dim values, or equal dim_param names. Our graphs are dynamic (batch, frames, size), so onnxruntime's
 * own inference leaves most dims unnamed; nothing matches, the free list grows with every node and each new output
 * scans all of it — quadratic in the node count. The demo UNet (2718 nodes) spent 4.2 s of its 4.4 s session
 * creation there in onnxruntime-node, ~11 s on the wasm EP. Named dims let equal-sized buffers match (and be reused:
 * less memory on the CPU path too); creation drops to ~1 s.
 *
 * How: the shape evaluator runs the graph at a base probe and at probes that change one input symbol each (plus
 * one that changes all). A dim that never changes is a number; one that changes is named by the product of
 * per-symbol functions (the symbol, its square, ceil or floor of a halving: `batch*frames*ceil(height/8)`, plus a
 * small constant for padding) that reproduces it on every probe, or by its values where none does. Dims share a
 * name only when they agree on every probe; the probes include odd sizes so the halvings our graphs use are told
 * apart. A pairing that were ever wrong at some request would be an onnxruntime error, not a wrong result: it
 * checks the sizes when it reuses a buffer (tests/compiler/value-info.test.ts checks the names at unseen sizes).
 */
import type { onnx as proto } from 'onnx-proto';
import { evaluateGraph, type Evaluation, type GraphLike } from './shape-eval.ts';

/**
 * Values each input symbol takes in the probes: the first is the base, each other one is a probe of its own (the
 * rest at base), and a last probe takes every symbol's second value. Spatial sizes include odd ones and ones with
 * different residues mod 64, because the graphs accept any size (a stride-2 convolution gives ceil(h/2), the VAE
 * encoder's padded one floor(h/2): only odd sizes tell them apart).
 */
export const PROBE_VALUES: Readonly<Record<string, readonly number[]>> = {
  batch: [2, 3],
  frames: [3, 5],
  height: [45, 192, 83, 100],
  width: [37, 128, 91, 52],
  latent_height: [45, 192, 83, 100],
  latent_width: [37, 128, 91, 52],
};

type Probe = Record<string, number>;

/** The input symbols of `graph` (dim_param names of its inputs), in first-seen order. */
export function inputSymbols(graph: GraphLike): string[] {
  const seen = new Set<string>();
  for (const i of graph.inputs) for (const d of i.type?.tensorType?.shape?.dim ?? []) if (d.dimParam) seen.add(d.dimParam);
  return [...seen];
}

interface ProbeSet {
  symbols: string[];
  probes: Probe[];
  /** for each symbol, the indices of the probes that change only it */
  varying: number[][];
}

function probeSet(symbols: string[]): ProbeSet {
  for (const s of symbols) if (!PROBE_VALUES[s]) throw new Error(`graph input symbol "${s}" has no probe values (src/compiler/onnx/value-info.ts)`);
  const base: Probe = Object.fromEntries(symbols.map((s) => [s, PROBE_VALUES[s][0]]));
  const probes: Probe[] = [base];
  const varying = symbols.map((s) =>
    PROBE_VALUES[s].slice(1).map((v) => {
      probes.push({ ...base, [s]: v });
      return probes.length - 1;
    }),
  );
  probes.push(Object.fromEntries(symbols.map((s) => [s, PROBE_VALUES[s][1]])));
  return { symbols, probes, varying };
}

/**
 * value_info for every value a node of `graph` produces (graph outputs excluded: they are declared already).
 * Throws when an input symbol has no probe values, or when the evaluator cannot follow the graph (an op it does not
 * know): the memory plan needs the same evaluation, so a graph that fails here fails there too.
 */
export function symbolicValueInfo(graph: GraphLike & { outputs: proto.IValueInfoProto[] }): proto.IValueInfoProto[] {
  const set = probeSet(inputSymbols(graph));
  const evaluations = set.probes.map((p) => evaluateAt(graph, p));
  const declared = new Set(graph.outputs.map((o) => o.name));
  const infos: proto.IValueInfoProto[] = [];
  for (const node of graph.nodes) {
    for (const name of node.output ?? []) {
      if (!name || declared.has(name)) continue;
      const seen = evaluations.map((e) => e.values.get(name)!);
      const rank = seen[0].shape.length;
      // a value whose rank depends on the request cannot be described by one shape: leave it to onnxruntime
      if (seen.some((v) => v.shape.length !== rank)) continue;
      const dim = seen[0].shape.map((_, k) => describeDim(seen.map((v) => v.shape[k]), set));
      infos.push({ name, type: { tensorType: { elemType: seen[0].elemType, shape: { dim } } } });
    }
  }
  return infos;
}

function evaluateAt(graph: GraphLike, probe: Probe): Evaluation {
  const shapes = Object.fromEntries(
    graph.inputs.map((i) => [i.name!, (i.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? probe[d.dimParam] : Number(d.dimValue)))]),
  );
  return evaluateGraph(graph, shapes);
}

/** One dim seen at every probe: a number, a product of functions of the symbols, or (neither) its values. */
function describeDim(values: number[], set: ProbeSet): proto.TensorShapeProto.IDimension {
  if (values.every((v) => v === values[0])) return { dimValue: values[0] };
  return { dimParam: product(values, set) ?? `dim_${values.join('_')}` };
}

/** What one symbol can contribute to a dim: the symbol itself, its square, or its size after k halvings. */
interface Factor {
  name: (s: string) => string;
  at: (v: number) => number;
}
const FACTORS: Factor[] = [
  { name: (s) => s, at: (v) => v },
  { name: (s) => `${s}*${s}`, at: (v) => v * v },
  ...[1, 2, 3, 4, 5, 6].flatMap((k): Factor[] => [
    { name: (s) => `ceil(${s}/${2 ** k})`, at: (v) => Math.ceil(v / 2 ** k) },
    { name: (s) => `floor(${s}/${2 ** k})`, at: (v) => Math.floor(v / 2 ** k) },
  ]),
];

/**
 * `c · Π f(symbol) + offset` (f from FACTORS or absent, c a positive integer or 1/d, a small offset for padding)
 * that gives `values` on every probe, written like `batch*frames*ceil(height/8)*ceil(width/8)`; undefined when none
 * does. Each symbol's factor is found from the probes that change only it; the last probe checks the whole.
 */
function product(values: number[], set: ProbeSet): string | undefined {
  for (const offset of [0, 1, -1, 2, -2]) {
    const v = values.map((x) => x - offset);
    if (v[0] === 0) continue;
    const chosen: (Factor | undefined)[] = [];
    let fits = true;
    for (let i = 0; i < set.symbols.length && fits; i++) {
      const s = set.symbols[i];
      const others = set.varying[i];
      if (others.every((j) => v[j] === v[0])) {
        chosen.push(undefined);
        continue;
      }
      const f = FACTORS.find((f) => f.at(set.probes[0][s]) !== 0 && others.every((j) => Math.abs(v[j] * f.at(set.probes[0][s]) - v[0] * f.at(set.probes[j][s])) < 1e-9 * Math.abs(v[0])));
      if (f) chosen.push(f);
      else fits = false;
    }
    if (!fits) continue;
    const at = (p: Probe) => set.symbols.reduce((acc, s, i) => acc * (chosen[i]?.at(p[s]) ?? 1), 1);
    const c = v[0] / at(set.probes[0]);
    if (set.probes.some((p, j) => Math.abs(c * at(p) - v[j]) > 1e-9 * Math.abs(v[j]))) continue;
    const factors = set.symbols.flatMap((s, i) => (chosen[i] ? [chosen[i]!.name(s)] : []));
    let text: string;
    if (Number.isInteger(c)) text = [...(c !== 1 ? [String(c)] : []), ...factors].join('*');
    else if (Number.isInteger(1 / c)) text = `${factors.join('*')}/${1 / c}`;
    else continue;
    return offset === 0 ? text : `${text}${offset > 0 ? '+' : ''}${offset}`;
  }
  return undefined;
}
