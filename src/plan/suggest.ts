/**
 * What would fit instead, found by planning it (never guessed): the most frames that fit at the requested size, the
 * largest preset size (src/contract/fields.ts RESOLUTION_PRESETS) that fits at the requested frames, and whether the
 * CPU (wasm, 4 GB of memory) would take the request as it is.
 */
import { RESOLUTION_PRESETS } from '../contract/fields.ts';
import type { Alternatives, DeviceLimits, MemoryPlanner, PlanRequest } from './request-plan.ts';

export function suggestAlternatives(planner: MemoryPlanner, request: PlanRequest, device: DeviceLimits): Alternatives {
  const fits = (r: PlanRequest, d: DeviceLimits = device) => planner.plan(r, d, false).fits;
  const out: Alternatives = { cpu: false };

  // frames: the need grows with the frame count, so the largest that fits is found by bisection
  if (request.frames > 1 && fits({ ...request, frames: 1 })) {
    let lo = 1;
    let hi = request.frames - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits({ ...request, frames: mid })) lo = mid;
      else hi = mid - 1;
    }
    out.frames = lo;
  }

  // size: presets with fewer pixels, the largest that fits; the same orientation first when pixels tie
  const pixels = request.width * request.height;
  const landscape = Math.sign(request.width - request.height);
  const multiple = planner.model.facts.sizeMultiple;
  const sizes = RESOLUTION_PRESETS.map((p) => p.split('x').map(Number) as [number, number])
    .filter(([w, h]) => w * h < pixels && w % multiple === 0 && h % multiple === 0)
    .sort((a, b) => b[0] * b[1] - a[0] * a[1] || Number(Math.sign(b[0] - b[1]) === landscape) - Number(Math.sign(a[0] - a[1]) === landscape));
  for (const [width, height] of sizes) {
    if (fits({ ...request, width, height })) {
      out.size = { width, height };
      break;
    }
  }

  if (device.kind === 'webgpu') out.cpu = fits(request, { kind: 'wasm', jsHeapBytes: device.jsHeapBytes });
  return out;
}
