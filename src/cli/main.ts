/**
 * The svd-web command line: `convert` (checkpoint → ONNX model folder), `generate` (image → video on
 * onnxruntime-node), `synth` (random-weight checkpoints with real configs, for scale tests).
 * Exit codes: 0 ok, 1 failure while working (e.g. a bad checkpoint), 2 bad usage or input values.
 */
import { CONVERT_USAGE, runConvert } from './convert.ts';
import { UsageError } from './errors.ts';

const USAGE = `usage: svd-web <command> [options]

commands:
  convert    turn a diffusers SVD checkpoint into browser-ready ONNX graphs
  generate   make a video from an image with a converted model (onnxruntime-node)
  synth      write a random-weight checkpoint with the real SVD-XT configs (for benchmarks)

svd-web <command> --help shows a command's options.

${CONVERT_USAGE}`;

type Command = (argv: string[]) => void | Promise<void>;

const commands: Record<string, () => Promise<Command>> = {
  convert: async () => runConvert,
  generate: async () => (await import('./generate.ts')).runGenerate,
  synth: async () => (await import('./synth.ts')).runSynth,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    console.error(`svd-web: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    await (await load())(rest);
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string };
    // node:util parseArgs reports unknown/ill-formed flags with ERR_PARSE_ARGS_* codes
    const usage = e instanceof UsageError || (err.code ?? '').startsWith('ERR_PARSE_ARGS');
    console.error(`svd-web ${name}: ${err.message}`);
    if (process.env.SVD_WEB_DEBUG) console.error(err.stack);
    return usage ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
