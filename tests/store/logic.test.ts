import { describe, expect, it } from 'vitest';
import { decideBackend, type BackendFacts } from '../../src/store/backend.ts';
import { checkDraft, completeDraft, defaultDraft, draftToInput } from '../../src/store/draft.ts';
import { overallFraction, phaseLabel } from '../../src/store/format.ts';
import { formatTimeLeft as formatEta } from '../../src/common/format.ts';
import { loadDraft, memoryStorage, saveDraft, STORAGE_KEYS } from '../../src/store/persist.ts';
import { sniffImage } from '../../src/store/image-check.ts';
import { endpointOverride } from '../../src/store/app-store.ts';
import { PNG } from 'pngjs';

const gpu = { status: 'done' as const, info: { device: 'webgpu' as const, reason: 'WebGPU adapter google swiftshader', features: [], crossOriginIsolated: true, adapter: { vendor: 'google', architecture: 'swiftshader', description: '', isFallbackAdapter: true } } };
const hwGpu = { status: 'done' as const, info: { ...gpu.info, reason: 'WebGPU adapter nvidia ampere', adapter: { vendor: 'nvidia', architecture: 'ampere', description: '', isFallbackAdapter: false } } };
const noGpu = { status: 'done' as const, info: { device: 'wasm' as const, reason: 'this browser has no WebGPU (navigator.gpu is missing); running on the CPU (wasm), which is slow', features: [], crossOriginIsolated: true } };
const model = { label: 'SVD fp32', requiredFeatures: [] as string[] };
const facts = (over: Partial<BackendFacts>): BackendFacts => ({ choice: 'auto', probe: gpu, model, hasApiKey: false, ...over });

describe('decideBackend', () => {
  it('auto: local WebGPU when a hardware adapter and a model are present', () => {
    const d = decideBackend(facts({ probe: hwGpu }));
    expect(d).toMatchObject({ backend: 'local', device: 'webgpu', ready: true });
    expect(d.reason).toMatch(/WebGPU is available \(nvidia ampere\) .* nothing is uploaded/);
  });
  it('auto: the CPU when the adapter is a software fallback, saying so; WebGPU still one pick away', () => {
    const d = decideBackend(facts({}));
    expect(d).toMatchObject({ backend: 'local', device: 'wasm', ready: true, label: "This device's CPU" });
    expect(d.reason).toMatch(/WebGPU is a software emulation \(google swiftshader\), slower than the CPU here, so SVD fp32 runs on the CPU/);
    expect(d.reason).toMatch(/Pick the GPU \(WebGPU\) to use it anyway/);
    expect(decideBackend(facts({ choice: 'webgpu' }))).toMatchObject({ backend: 'local', device: 'webgpu', ready: true });
  });
  it('auto: the CPU when runs of this model measured it faster than this hardware GPU; the GPU when it was faster or not measured', () => {
    const slowGpu = decideBackend(facts({ probe: hwGpu, measured: { gpu: 40, cpu: 12 } }));
    expect(slowGpu).toMatchObject({ backend: 'local', device: 'wasm', ready: true });
    expect(slowGpu.reason).toMatch(/Measured on this device: the CPU ran SVD fp32 faster than the GPU \(nvidia ampere\): 12 s against 40 s per TFLOP/);
    expect(slowGpu.reason).toMatch(/Pick the GPU \(WebGPU\) to use it anyway/);
    expect(decideBackend(facts({ probe: hwGpu, measured: { gpu: 3, cpu: 12 } }))).toMatchObject({ device: 'webgpu' });
    expect(decideBackend(facts({ probe: hwGpu, measured: { cpu: 12 } }))).toMatchObject({ device: 'webgpu' });
  });
  it('auto: the CPU without WebGPU (not Segmind), saying why and offering Segmind', () => {
    const d = decideBackend(facts({ probe: noGpu }));
    expect(d).toMatchObject({ backend: 'local', device: 'wasm', ready: true });
    expect(d.reason).toMatch(/No usable GPU: this browser has no WebGPU.*runs on this device's CPU instead.*Pick Segmind/);
  });
  it('auto: Segmind without a model (asking for the key), or when the model needs a feature this GPU lacks', () => {
    const none = decideBackend(facts({ model: undefined }));
    expect(none).toMatchObject({ backend: 'segmind', ready: false });
    expect(none.reason).toMatch(/No local model.*Enter your Segmind API key/);
    expect(decideBackend(facts({ model: undefined, hasApiKey: true })).ready).toBe(true);
    const d = decideBackend(facts({ probe: hwGpu, model: { label: 'SVD fp16', requiredFeatures: ['shader-f16'] } }));
    expect(d.backend).toBe('segmind');
    expect(d.reason).toMatch(/needs the GPU feature shader-f16/);
    // on a software adapter the CPU runs fp16 graphs (the wasm EP has no shader-f16 to need)
    expect(decideBackend(facts({ model: { label: 'SVD fp16', requiredFeatures: ['shader-f16'] } }))).toMatchObject({ backend: 'local', device: 'wasm' });
  });
  it('CPU when picked, labelled slow; WebGPU picked without adapter is not ready', () => {
    expect(decideBackend(facts({ choice: 'wasm', probe: noGpu }))).toMatchObject({ backend: 'local', device: 'wasm', slow: true, ready: true });
    expect(decideBackend(facts({ choice: 'webgpu', probe: noGpu }))).toMatchObject({ backend: 'local', ready: false });
    expect(decideBackend(facts({ choice: 'segmind', hasApiKey: true }))).toMatchObject({ backend: 'segmind', ready: true });
    expect(decideBackend(facts({ probe: { status: 'pending' } })).ready).toBe(false);
  });
});

describe('settings draft', () => {
  it('defaults come from REQUEST_FIELDS and validate for both backends', () => {
    const d = defaultDraft();
    expect(d).toMatchObject({ fps: '7', motion: '127', seed: '-1', frames: '14', cond_aug: '0.02', base64: false, resolution: 'model-default', width: '' });
    expect(checkDraft(d, { backend: 'local' }).request).toMatchObject({ fps: 7, frames: 14, steps: 25 });
    expect(checkDraft(d, { backend: 'segmind' }).request).toMatchObject({ frames: 14 });
  });
  it('errors are keyed by field; frames 3 is fine locally but not on Segmind', () => {
    const d = { ...defaultDraft(), frames: '3', motion: '500' };
    const seg = checkDraft(d, { backend: 'segmind' });
    expect(seg.request).toBeUndefined();
    expect(seg.fieldErrors.frames).toMatch(/14 or 25/);
    expect(seg.fieldErrors.motion).toBe('Motion must be an integer from 1 to 180.');
    expect(checkDraft({ ...d, motion: '90' }, { backend: 'local', maxFrames: 25 }).request?.frames).toBe(3);
  });
  it('width/height are sent only with a custom resolution; blank means default', () => {
    expect(draftToInput({ ...defaultDraft(), width: '64', height: '64' })).not.toHaveProperty('width');
    const custom = checkDraft({ ...defaultDraft(), resolution: 'custom', width: '64', height: '64' }, { backend: 'local' });
    expect(custom.request).toMatchObject({ width: 64, height: 64, resolution: 'custom' });
    expect(checkDraft({ ...defaultDraft(), seed: '  ' }, { backend: 'local' }).request?.seed).toBe(-1);
  });
  it('persists and restores exactly what the user typed, dropping unknown keys', () => {
    const storage = memoryStorage();
    saveDraft(storage, { ...defaultDraft(), motion: '90', base64: true, seed: '12x' });
    const back = completeDraft(loadDraft(storage));
    expect(back).toMatchObject({ motion: '90', base64: true, seed: '12x' });
    storage.setItem(STORAGE_KEYS.params, '{"motion": 33, "bogus": 1, "fps": {"x":1}}');
    expect(loadDraft(storage)).toEqual({ motion: '33' });
    storage.setItem(STORAGE_KEYS.params, 'not json');
    expect(loadDraft(storage)).toEqual({});
  });
});

describe('progress words', () => {
  it('labels and an overall fraction that only goes up', () => {
    expect(phaseLabel('denoising', 0, 25)).toBe('Denoising step 1/25');
    expect(phaseLabel('denoising', 25, 25)).toBe('Denoising step 25/25');
    const seq = [overallFraction('loading-model', 0, 1), overallFraction('encoding', 1, 2), overallFraction('denoising', 1, 4), overallFraction('denoising', 4, 4), overallFraction('decoding', 1, 2), overallFraction('muxing', 1, 1)];
    for (let i = 1; i < seq.length; i++) expect(seq[i]).toBeGreaterThan(seq[i - 1]);
    expect(seq.at(-1)).toBe(1);
    expect(formatEta(12.4)).toBe('about 12 s left');
    expect(formatEta(600)).toBe('about 10 min left');
    expect(formatEta(undefined)).toBe('');
  });
});

describe('segmind endpoint override', () => {
  it('is honoured only for a local http server', () => {
    expect(endpointOverride('?segmindEndpoint=http%3A%2F%2F127.0.0.1%3A4000%2Fv1%2Fsvd')).toBe('http://127.0.0.1:4000/v1/svd');
    expect(endpointOverride('?segmindEndpoint=http://localhost:9/v1/svd')).toBe('http://localhost:9/v1/svd');
    expect(endpointOverride('?segmindEndpoint=https://evil.example/v1/svd')).toBeUndefined();
    expect(endpointOverride('?segmindEndpoint=http://10.0.0.1/v1/svd')).toBeUndefined();
    expect(endpointOverride('')).toBeUndefined();
  });
});

describe('sniffImage', () => {
  const png = (w: number, h: number) => {
    const p = new PNG({ width: w, height: h });
    return new Uint8Array(PNG.sync.write(p));
  };
  it('reads PNG size, completeness and APNG animation', () => {
    const b = png(40, 30);
    expect(sniffImage(b)).toMatchObject({ format: 'png', width: 40, height: 30, truncated: false });
    expect(sniffImage(b.subarray(0, b.length - 6)).truncated).toBe(true);
    // An acTL chunk before IDAT makes it an APNG.
    const actl = new Uint8Array([0, 0, 0, 8, ...Buffer.from('acTL'), 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    const apng = new Uint8Array([...b.subarray(0, 33), ...actl, ...b.subarray(33)]);
    expect(sniffImage(apng)).toMatchObject({ animated: true, frameCount: 3 });
  });
  it('counts GIF frames and spots a missing trailer', () => {
    const head = [...Buffer.from('GIF89a'), 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0xff, 0xff, 0, 0, 0];
    const frame = [0x21, 0xf9, 4, 0, 10, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0];
    expect(sniffImage(new Uint8Array([...head, ...frame, 0x3b]))).toMatchObject({ format: 'gif', animated: false, frameCount: 1, truncated: false });
    expect(sniffImage(new Uint8Array([...head, ...frame, ...frame, ...frame, 0x3b]))).toMatchObject({ animated: true, frameCount: 3 });
    expect(sniffImage(new Uint8Array([...head, ...frame])).truncated).toBe(true);
  });
  it('reads JPEG size and EOI; WebP animation flag; names what is not an image', () => {
    const sof = [0xff, 0xc0, 0, 11, 8, 0x01, 0x2c, 0x01, 0x90, 3, 0, 0, 0, 0, 0, 0];
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, ...sof, 0xff, 0xda, 0, 2, 1, 2, 3, 0xff, 0xd9]);
    expect(sniffImage(jpeg)).toMatchObject({ format: 'jpeg', width: 400, height: 300, truncated: false });
    expect(sniffImage(jpeg.subarray(0, jpeg.length - 2)).truncated).toBe(true);
    const webp = new Uint8Array(30);
    webp.set(Buffer.from('RIFF'), 0);
    new DataView(webp.buffer).setUint32(4, 22, true);
    webp.set(Buffer.from('WEBPVP8X'), 8);
    webp[20] = 0x02;
    webp.set([99, 0, 0, 49, 0, 0], 24);
    expect(sniffImage(webp)).toMatchObject({ format: 'webp', animated: true, width: 100, height: 50, truncated: false });
    expect(sniffImage(new TextEncoder().encode('%PDF-1.4')).other).toBe('a PDF document');
    expect(sniffImage(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>')).other).toBe('an SVG drawing');
    expect(sniffImage(new TextEncoder().encode('hello world')).other).toBe('a text file');
    expect(sniffImage(new Uint8Array([0, 0, 0, 0x18, ...Buffer.from('ftypheic')])).other).toMatch(/HEIC/);
  });
});
