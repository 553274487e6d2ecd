/**
 * The memory plan applied to one job, before any session is created: a request that does not fit this device is
 * refused with the plan's numbers and what would fit; one whose guidance batch of 2 does not fit runs its halves
 * apart (the same video); one whose decode chunk does not fit is refused with the chunk that does, because the chunk
 * changes the video and is the user's to change.
 */
import { EngineError, type DeviceInfo, type GenerateJob } from '../contract/job.ts';
import type { SvdRequest } from '../contract/request.ts';
import { REQUEST_FIELDS } from '../contract/fields.ts';
import { usesGuidance } from '../contract/work.ts';
import { type DeviceLimits, type MemoryPlanner, type RequestPlan } from '../plan/request-plan.ts';

/** What the device allows: WebGPU's own buffer limits (and the user's budget), or the CPU's wasm memory. */
export function deviceLimits(device: DeviceInfo, budget: GenerateJob['memoryBudget']): DeviceLimits {
  if (device.device !== 'webgpu') return { kind: 'wasm' };
  const buffer = [device.maxBufferSize, budget?.maxBufferBytes].filter((x): x is number => x !== undefined);
  const limits: DeviceLimits = {
    kind: 'webgpu',
    gpuBytes: budget?.gpuBytes,
    maxBufferSize: buffer.length ? Math.min(...buffer) : undefined,
    maxStorageBufferBindingSize: device.maxStorageBufferBindingSize,
    ...(budget?.sessionPartBytes ? { sessionPartBytes: budget.sessionPartBytes } : {}),
  };
  // the plan chooses each graph's score budget unless one is given (tests)
  if (device.attention?.kind === 'chunked') limits.attention = { kind: 'chunked', ...(budget?.attentionScoreBytes ? { scoreBytes: budget.attentionScoreBytes } : {}) };
  return limits;
}

/** `size`: the video's size as the pipeline frames the picture (src/pipeline/image.ts planFraming, in the engine). */
export function checkMemory(planner: MemoryPlanner, size: { width: number; height: number }, job: GenerateJob, request: SvdRequest, device: DeviceInfo): RequestPlan {
  const plan = planner.plan({
    frames: request.frames,
    width: size.width,
    height: size.height,
    guidance: usesGuidance(request) || !!job.forceGuidanceBatch,
    decodeChunk: request.decode_chunk,
  }, deviceLimits(device, job.memoryBudget));
  if (!plan.fits) throw new EngineError('too-large', plan.refusal!);
  const chunk = plan.changes.find((c) => c.field === 'decode_chunk');
  if (chunk) {
    throw new EngineError('too-large', `${chunk.why}. Set "${REQUEST_FIELDS.decode_chunk.label}" to ${chunk.to} (or fewer frames or a smaller size) to run it`);
  }
  return plan;
}
