/** `svd-web synth --out <dir> [--preset svd-xt|svd|tiny] [--dtype f16|f32] [--seed N]` */
import { parseArgs } from 'node:util';
import { SYNTH_PRESETS, type SynthDType, type SynthPreset } from '../compiler/synthetic/configs.ts';
import { synthesizeCheckpoint, synthesizeUnetFile } from '../compiler/synthetic/write.ts';
import { ProgressBar } from './progress.ts';
import { formatBytes } from '../common/format.ts';
import { UsageError } from './errors.ts';

export const SYNTH_USAGE = `svd-web synth --out <dir> [options]

Writes a diffusers-layout SVD checkpoint with random weights and real configs (for scale tests and benchmarks;
it generates noise). Weight names and shapes come from the compiler's own architecture code.

  --out <dir>        where unet/, vae/, image_encoder/, scheduler/, feature_extractor/ go
  --preset <p>       svd-xt (25 frames, default) | svd (14 frames) | tiny (small config, same architecture)
  --dtype <d>        f16 (default, *.fp16.safetensors as published) | f32
  --seed <n>         random seed (default 0)
  --layout <l>       diffusers (default: the whole checkpoint) | animatelcm (only the UNet, as one file
                     AnimateLCM-SVD-xt.safetensors in diffusers' names, fp32 unless --dtype f16: the fast
                     model's UNet, for svd-web convert --unet)`;

export function runSynth(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      preset: { type: 'string', default: 'svd-xt' },
      dtype: { type: 'string' },
      seed: { type: 'string', default: '0' },
      layout: { type: 'string', default: 'diffusers' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(SYNTH_USAGE);
    return;
  }
  if (!values.out) throw new UsageError('--out <dir> is required');
  const preset = values.preset as SynthPreset;
  if (!SYNTH_PRESETS.includes(preset)) throw new UsageError(`--preset must be ${SYNTH_PRESETS.join(', ')} (got "${values.preset}")`);
  const layout = values.layout;
  if (layout !== 'diffusers' && layout !== 'animatelcm') throw new UsageError(`--layout must be diffusers or animatelcm (got "${values.layout}")`);
  const dtype = (values.dtype ?? (layout === 'animatelcm' ? 'f32' : 'f16')) as SynthDType;
  if (dtype !== 'f16' && dtype !== 'f32') throw new UsageError(`--dtype must be f16 or f32 (got "${values.dtype}")`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`--seed must be an integer from 0 to 4294967295 (got "${values.seed}")`);

  if (layout === 'animatelcm') {
    const bar = new ProgressBar(`synth ${preset} UNet`);
    const unet = synthesizeUnetFile({ out: values.out, preset, dtype, seed, onProgress: (p) => bar.update(p.doneBytes, p.totalBytes, formatBytes(p.doneBytes)) });
    bar.done(`wrote ${values.out}`);
    console.log(`  ${unet.file.padEnd(48)} ${formatBytes(unet.bytes).padStart(10)}  ${unet.tensors} tensors, ${unet.params.toLocaleString('en-US')} params, ${dtype}, seed ${seed}`);
    return;
  }
  const bar = new ProgressBar(`synth ${preset}`);
  const result = synthesizeCheckpoint({
    out: values.out,
    preset,
    dtype,
    seed,
    onProgress: (p) => bar.update(p.doneBytes, p.totalBytes, `${p.component} ${formatBytes(p.doneBytes)}/${formatBytes(p.totalBytes)}`),
  });
  bar.done(`wrote ${values.out}`);
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log('parameters per graph:');
  for (const [name, n] of Object.entries(result.params)) console.log(`  ${name.padEnd(14)} ${fmt(n).padStart(15)}  (${(n / 1e6).toFixed(1)} M)`);
  console.log('files:');
  for (const c of Object.values(result.components)) {
    console.log(`  ${c.file.padEnd(48)} ${formatBytes(c.bytes).padStart(10)}  ${c.tensors} tensors, ${fmt(c.params)} params`);
  }
  console.log(`  ${'total'.padEnd(48)} ${formatBytes(result.totalBytes).padStart(10)}  ${dtype}, seed ${seed}`);
}
