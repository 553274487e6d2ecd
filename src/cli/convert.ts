/** `svd-web convert --from <checkpoint> --out <dir> [--precision …] [--attention …]` */
import { parseArgs } from 'node:util';
import { convertCheckpoint } from '../compiler/convert-folder.ts';
import { ProgressBar } from './progress.ts';
import { formatBytes } from '../common/format.ts';
import { UsageError } from './errors.ts';
import { basename } from 'node:path';
import { SAMPLER_NAMES, type SamplerName } from '../contract/manifest.ts';

export const CONVERT_USAGE = `svd-web convert --from <checkpoint dir> --out <model dir> [options]

  --from <dir>          diffusers-layout SVD checkpoint (unet/, vae/, image_encoder/)
  --out <dir>           where manifest.json, the .onnx graphs and their weight shards go
  --precision <p>       fp32 | fp16 | q4f32 | q4f16 (default q4f16)
  --attention <a>       auto | plain | fused (default auto: fused for full-size models)
  --default-size <HxW>  default output resolution recorded in the manifest (default 576x1024)
  --shard-mb <n>        largest external-data file in MiB (default 1024)
  --conv-int4           q4 precisions: store the UNet's 3×3 convolutions as int4 blocks instead of int8
                        (−0.24 GB for SVD-XT; larger error, unmeasured on real weights)
  --unet <file>         a single-file UNet (.safetensors, diffusers' names) instead of the checkpoint's unet/
                        weights, e.g. AnimateLCM-SVD-xt.safetensors; unet/config.json still describes it
  --sampler <s>         euler | animatelcm: the sampler the UNet was trained for (default euler; animatelcm
                        when the --unet file's name says AnimateLCM). animatelcm: 4 steps, guidance 1 by default

  Fast mode (AnimateLCM, ~4 steps instead of 25):
    svd-web convert --from stable-video-diffusion-img2vid-xt --unet AnimateLCM-SVD-xt.safetensors --out svd-xt-fast`;

export function runConvert(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' },
      out: { type: 'string' },
      precision: { type: 'string', default: 'q4f16' },
      attention: { type: 'string', default: 'auto' },
      'default-size': { type: 'string' },
      'shard-mb': { type: 'string' },
      'conv-int4': { type: 'boolean' },
      unet: { type: 'string' },
      sampler: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(CONVERT_USAGE);
    return;
  }
  if (!values.from) throw new UsageError('--from <checkpoint dir> is required');
  if (!values.out) throw new UsageError('--out <model dir> is required');
  const precision = values.precision as 'fp32' | 'fp16' | 'q4f32' | 'q4f16';
  if (!['fp32', 'fp16', 'q4f32', 'q4f16'].includes(precision)) throw new UsageError(`--precision must be fp32, fp16, q4f32 or q4f16 (got "${values.precision}")`);
  const attention = values.attention as 'auto' | 'plain' | 'fused';
  if (!['auto', 'plain', 'fused'].includes(attention)) throw new UsageError(`--attention must be auto, plain or fused (got "${values.attention}")`);
  let defaultHeight: number | undefined;
  let defaultWidth: number | undefined;
  if (values['default-size']) {
    const m = /^(\d+)x(\d+)$/.exec(values['default-size']);
    if (!m) throw new UsageError(`--default-size must look like 576x1024 (got "${values['default-size']}")`);
    defaultHeight = Number(m[1]);
    defaultWidth = Number(m[2]);
  }
  let shardBytes: number | undefined;
  if (values['shard-mb']) {
    const mb = Number(values['shard-mb']);
    if (!Number.isInteger(mb) || mb < 1 || mb > 1900) throw new UsageError(`--shard-mb must be an integer from 1 to 1900 (got "${values['shard-mb']}")`);
    shardBytes = mb * 1024 * 1024;
  }

  if (values.sampler !== undefined && !SAMPLER_NAMES.includes(values.sampler as SamplerName)) {
    throw new UsageError(`--sampler must be ${SAMPLER_NAMES.join(' or ')} (got "${values.sampler}")`);
  }
  if (values.sampler === 'animatelcm' && !values.unet) throw new UsageError('--sampler animatelcm needs the AnimateLCM UNet: give it with --unet <file>');
  const sampler = (values.sampler as SamplerName | undefined) ?? (values.unet && /animate-?lcm/i.test(basename(values.unet)) ? 'animatelcm' : 'euler');
  if (values.unet) console.log(`UNet from ${values.unet}; sampler ${sampler}${values.sampler ? '' : ' (from the file name; --sampler to change)'}`);

  const bar = new ProgressBar('converting');
  const result = convertCheckpoint({
    from: values.from,
    out: values.out,
    precision,
    attention,
    defaultHeight,
    defaultWidth,
    shardBytes,
    convInt4: values['conv-int4'],
    unetFile: values.unet,
    sampler,
    onProgress: (p) => bar.update(p.doneBytes, p.totalBytes, `${p.graph} ${formatBytes(p.doneBytes)}/${formatBytes(p.totalBytes)}`),
  });
  bar.done(`wrote ${values.out}`);
  for (const g of result.graphs) {
    const bytes = g.model.bytes + g.externalData.reduce((a, f) => a + f.bytes, 0);
    console.log(`  ${g.name.padEnd(14)} ${formatBytes(bytes).padStart(10)}  ${g.nodeCount} nodes, ${g.externalData.length} data file(s)`);
  }
  console.log(`  ${'total'.padEnd(14)} ${formatBytes(result.manifest.totalBytes).padStart(10)}  ${result.manifest.precision}, attention ${result.manifest.attention}, sampler ${result.manifest.sampler}`);
}
