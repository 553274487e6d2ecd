/** Reading config.json fields with errors that name the file, the field and what was expected. */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function configError(file: string, field: string, value: unknown, expected: string): ConfigError {
  return new ConfigError(`${file}: "${field}" is ${JSON.stringify(value)}; expected ${expected}`);
}

type Raw = Record<string, unknown>;

function get(raw: Raw, field: string, file: string, fallback: unknown): unknown {
  const v = raw[field];
  if (v === undefined || v === null) {
    if (fallback === undefined) throw new ConfigError(`${file}: missing field "${field}"`);
    return fallback;
  }
  return v;
}

export function intField(raw: Raw, field: string, file: string, fallback?: number): number {
  const v = get(raw, field, file, fallback);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw configError(file, field, v, 'a non-negative integer');
  return v;
}

export function numberField(raw: Raw, field: string, file: string, fallback?: number): number {
  const v = get(raw, field, file, fallback);
  if (typeof v !== 'number' || !Number.isFinite(v)) throw configError(file, field, v, 'a number');
  return v;
}

export function stringField(raw: Raw, field: string, file: string, fallback?: string): string {
  const v = get(raw, field, file, fallback);
  if (typeof v !== 'string') throw configError(file, field, v, 'a string');
  return v;
}

export function boolField(raw: Raw, field: string, file: string, fallback?: boolean): boolean {
  const v = get(raw, field, file, fallback);
  if (typeof v !== 'boolean') throw configError(file, field, v, 'true or false');
  return v;
}

/** An int, or a list of ints of the given length (diffusers accepts both for per-block settings). */
export function intList(raw: Raw, field: string, file: string, length: number, fallback?: number | number[]): number[] {
  const v = get(raw, field, file, fallback);
  const list = typeof v === 'number' ? new Array(length).fill(v) : v;
  if (!Array.isArray(list) || list.length !== length || list.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x <= 0)) {
    throw configError(file, field, v, `a positive integer or a list of ${length} positive integers`);
  }
  return list as number[];
}

export function stringList(raw: Raw, field: string, file: string, allowed: readonly string[], fallback?: string[]): string[] {
  const v = get(raw, field, file, fallback);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw configError(file, field, v, 'a list of strings');
  for (const x of v as string[]) {
    if (!allowed.includes(x)) throw new ConfigError(`${file}: "${field}" contains unknown block type "${x}"; supported: ${allowed.join(', ')}`);
  }
  return v as string[];
}
