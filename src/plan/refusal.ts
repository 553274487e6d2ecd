/** The plan's refusal in words: what the request needs, what the device allows, and what would fit. */
import { formatBytes } from '../common/format.ts';
import { bufferLimit, WASM_MEMORY_BYTES, type RequestPlan } from './request-plan.ts';

export interface Alternatives {
  frames?: number;
  size?: { width: number; height: number };
  cpu: boolean;
}

/** "25 frames at 1024×576 needs about X of GPU memory and a Y buffer; this GPU allows Z: try …". */
export function refusalMessage(plan: RequestPlan, alternatives?: Alternatives): string {
  const { request: r, device } = plan;
  const worst = plan.stages.reduce((a, b) => (b.peakBytes > a.peakBytes ? b : a));
  const where = device.kind === 'wasm' ? 'memory (wasm)' : 'GPU memory';
  const needs = `${r.frames} frames at ${r.width}×${r.height} need${r.frames === 1 ? 's' : ''} about ${formatBytes(worst.peakBytes)} of ${where} and a ${formatBytes(plan.largestBuffer.bytes)} buffer`;
  const allows: string[] = [];
  const memory = device.kind === 'wasm' ? WASM_MEMORY_BYTES : device.gpuBytes;
  if (memory !== undefined) allows.push(`${formatBytes(memory * (1 - plan.margin))} of ${formatBytes(memory)} (${Math.round(plan.margin * 100)}% kept free)`);
  const limit = bufferLimit(device);
  if (limit !== undefined) allows.push(`buffers up to ${formatBytes(limit)}`);
  const who = device.kind === 'wasm' ? 'the CPU (wasm) allows' : 'this GPU allows';
  let text = `${needs}; ${who} ${allows.join(' and ') || 'less'}`;
  const js = plan.notes.find((n) => n.startsWith('creating the'));
  if (js) text += `; ${js}`;
  if (!alternatives) return `${text}.`;
  const tries: string[] = [];
  if (alternatives.frames) tries.push(`${alternatives.frames} frames`);
  if (alternatives.size) tries.push(`${alternatives.size.width}×${alternatives.size.height}`);
  if (alternatives.cpu) tries.push('the CPU (slow)');
  if (!tries.length) {
    return `${text}. Neither fewer frames nor a smaller preset size fits ${device.kind === 'wasm' ? 'the CPU' : 'this GPU'} either: try a smaller custom size${device.kind === 'wasm' ? '' : ', or a device with more GPU memory'}.`;
  }
  const list = tries.length === 1 ? tries[0] : `${tries.slice(0, -1).join(', ')} or ${tries[tries.length - 1]}`;
  return `${text}: try ${list}.`;
}
