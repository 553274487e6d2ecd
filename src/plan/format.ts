/** A request plan as text: one row per stage, then the choices, the changes and the verdict (the CLI's --plan). */
import { formatBytes } from '../common/format.ts';
import { elementTypeName, type TensorRecord } from './memory.ts';
import { bufferLimit, WASM_MEMORY_BYTES, type RequestPlan } from './request-plan.ts';

export function describeTensor(t: TensorRecord): string {
  return `${formatBytes(t.bytes)} (${t.op} "${t.name}" [${t.shape.join(',')}] ${elementTypeName(t.elemType)})`;
}

export function formatPlan(plan: RequestPlan): string {
  const { request: r, device } = plan;
  const lines: string[] = [];
  const limits: string[] = [];
  if (device.kind === 'wasm') limits.push(`wasm memory ${formatBytes(WASM_MEMORY_BYTES)}`);
  if (device.gpuBytes !== undefined) limits.push(`GPU memory ${formatBytes(device.gpuBytes)}`);
  const limit = bufferLimit(device);
  if (limit !== undefined) limits.push(`largest buffer ${formatBytes(limit)}`);
  if (device.jsHeapBytes !== undefined) limits.push(`JS heap ${formatBytes(device.jsHeapBytes)}`);
  lines.push(`memory plan: ${r.frames} frames at ${r.width}×${r.height}, ${r.guidance ? 'guidance (batch 2)' : 'no guidance (batch 1)'}, decode chunk ${r.decodeChunk}`);
  lines.push(`device: ${device.kind === 'wasm' ? 'CPU (wasm)' : 'WebGPU'}; ${limits.length ? limits.join(', ') : 'no limits given (numbers only)'}; margin ${Math.round(plan.margin * 100)}%`);
  lines.push('');
  const rows = plan.stages.map((s) => [s.setting, formatBytes(s.weightBytes), formatBytes(s.activationPeak), formatBytes(s.loopBytes), formatBytes(s.peakBytes), formatBytes(s.largest.bytes), formatBytes(s.sessionJsBytes), s.fits ? 'yes' : 'NO']);
  const head = ['stage', 'weights', 'activations', 'loop buffers', 'peak', 'largest buffer', 'session JS', 'fits'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(line(head), ...rows.map(line));
  lines.push('');
  for (const s of plan.stages) {
    lines.push(`${s.stage}: largest buffer ${describeTensor(s.largest)}`);
    if (s.attentionChunking) {
      const counts = Object.values(s.attentionChunking).map((c) => c.chunks);
      lines.push(`  chunked attention: ${counts.length} attention node${counts.length === 1 ? '' : 's'} in ${counts.reduce((a, b) => a + b, 0)} query chunks (at most ${Math.max(...counts)} a node), float32 scores up to ${formatBytes(s.attentionScoreBytes ?? 0)} a chunk`);
    } else if (s.attentionScores) {
      lines.push(`  fused attention's score matrix, if the kernel materialises it (no flash attention): ${describeTensor(s.attentionScores)}`);
    }
  }
  lines.push('');
  lines.push(`choice: ${plan.splitGuidance ? 'guidance split into two batch-1 UNet calls' : `UNet batch ${plan.guidanceBatch} per call`}, decode chunk ${plan.decodeChunk}`);
  for (const c of plan.changes) lines.push(`change: ${c.field} ${c.from} → ${c.to}: ${c.why}`);
  for (const n of plan.notes) lines.push(`note: ${n}`);
  lines.push(plan.fits ? `fits: peak ${formatBytes(plan.peakBytes)}, largest buffer ${formatBytes(plan.largestBuffer.bytes)}` : `does not fit: ${plan.refusal}`);
  return lines.join('\n');
}
