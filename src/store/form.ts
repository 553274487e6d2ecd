/**
 * The settings form in people's words (pure; unit-tested in Node): the order the form shows the fields in and the
 * first one to fix, numbers as people type them (a decimal comma: "0,05"), each field's default in words, and the
 * request's errors and warnings with every field named by its label ("Conditioning noise must be a number from 0 to
 * 1."). The command line keeps src/contract/request.ts's own wording, which names the fields as the API and its flags
 * do ("cond_aug must be …"); only the app rewords them, here.
 */
import { formatValue, REQUEST_FIELDS, type FieldName, type RequestError } from '../contract/request.ts';
import type { Draft } from './persist.ts';

/** The fields shown first, in order. */
export const MAIN_FIELDS: readonly FieldName[] = ['motion', 'fps', 'frames', 'seed', 'cond_aug', 'resize_method', 'base64'];
/** The fields under "Advanced (this device only)", in order (width and height appear under a custom resolution). */
export const ADVANCED_FIELDS: readonly FieldName[] = ['steps', 'min_guidance', 'max_guidance', 'resolution', 'decode_chunk'];
/** Every field in the order the form shows it. */
export const FORM_ORDER: readonly FieldName[] = [...MAIN_FIELDS, 'steps', 'min_guidance', 'max_guidance', 'resolution', 'width', 'height', 'decode_chunk'];

/** What a choice of a list field is called in the form. */
export const OPTION_LABELS: Readonly<Record<string, string>> = {
  maintain_aspect_ratio: 'Keep proportions',
  crop_to_16_9: 'Crop to 16:9',
  'model-default': "Model's own size",
  custom: 'Custom…',
};

export function optionLabel(option: string): string {
  return OPTION_LABELS[option] ?? option.replace('x', '×');
}

/** Whether a field sits in the "Advanced" part of the form (closed at first). */
export function isAdvancedField(name: FieldName): boolean {
  return !MAIN_FIELDS.includes(name);
}

/** The first field with an error, in the form's order (what Generate moves the focus to); undefined when none. */
export function firstFieldToFix(fieldErrors: Partial<Record<FieldName | '', string>>): FieldName | undefined {
  return FORM_ORDER.find((name) => fieldErrors[name] !== undefined);
}

const DECIMAL_COMMA = /^\s*([+-]?\d*),(\d+)\s*$/;

/** A decimal number as typed, with a comma or a dot ("0,05" and "0.05"); NaN when it is not one. */
export function parseDecimal(text: string): number {
  const t = text.trim();
  const m = DECIMAL_COMMA.exec(t);
  return t === '' ? NaN : Number(m ? `${m[1]}.${m[2]}` : t);
}

/**
 * What the request gets from a number box: a decimal comma becomes a dot in the fields that take decimals
 * ("0,05" → "0.05"); whole-number fields are left as typed ("1,000" is not read as 1).
 */
export function numberText(name: FieldName, text: string): string {
  if (REQUEST_FIELDS[name].type !== 'number') return text;
  const m = DECIMAL_COMMA.exec(text);
  return m ? `${m[1]}.${m[2]}` : text;
}

/** A number box's value as a number (for its slider), else undefined. */
export function draftNumber(draft: Draft, name: FieldName): number | undefined {
  const v = draft[name];
  if (typeof v !== 'string') return undefined;
  const n = parseDecimal(v);
  return Number.isFinite(n) ? n : undefined;
}

/** A field's default in words: "Default 7", "Default 4 for this model", "Default: the model's size". */
export function defaultWords(name: FieldName, modelDefault?: number): string {
  const spec = REQUEST_FIELDS[name];
  if (modelDefault !== undefined && modelDefault !== spec.default) return `Default ${modelDefault} for this model`;
  if (spec.default === null) return name === 'width' || name === 'height' ? "Default: the model's size" : '';
  return `Default ${String(spec.default)}`;
}

/** The field names that read as code (cond_aug, min_guidance…), longest first. */
const CODE_NAMES = (Object.keys(REQUEST_FIELDS) as FieldName[]).filter((n) => n.includes('_')).sort((a, b) => b.length - a.length);

/** A sentence of the request's with the code-like field names replaced by their labels (lower case). */
export function plainText(text: string): string {
  let out = text;
  for (const name of CODE_NAMES) out = out.replace(new RegExp(`\\b${name}\\b`, 'g'), REQUEST_FIELDS[name].label.toLowerCase());
  return out;
}

function sentence(text: string): string {
  const t = text.trim();
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

/** A field's allowed values in words: the range of fields.ts, a list field's choices by their labels. */
export function rangeWords(name: FieldName, range: string): string {
  const spec = REQUEST_FIELDS[name];
  if (spec.type === 'enum' && spec.options) {
    const labels = spec.options.map(optionLabel);
    return `${labels.slice(0, -1).join(', ')} or ${labels.at(-1)}`;
  }
  return plainText(range);
}

/** One error of the request in the app's words, naming the field by its label. */
export function plainRequestError(e: RequestError): string {
  const spec = (REQUEST_FIELDS as Partial<Record<string, (typeof REQUEST_FIELDS)[FieldName]>>)[e.field];
  if (!spec) return sentence(plainText(e.message));
  const name = spec.name;
  // the common shape: "<field> must be <range> (got <value>)"
  if (e.message === `${e.field} must be ${e.range} (got ${formatValue(e.value)})`) return `${spec.label} must be ${rangeWords(name, e.range)}.`;
  // min guidance above max guidance: the range says which one to change ("not above max_guidance (3)")
  if (/^not (above|below) /.test(e.range)) return `${spec.label} must ${plainText(e.range).replace(/^not /, 'not be ')}.`;
  // a custom size with one side missing: the error is on the side missing
  if (e.range.startsWith('given together with')) {
    return `Give a ${name} too: a custom resolution needs both width and height (or pick a size from the list).`;
  }
  if (e.range === 'given with width and height') return 'Give a width and a height for a custom resolution (or pick a size from the list).';
  // anything else: the request's sentence, its field names as labels
  return sentence(plainText(e.message.replace(new RegExp(`^${e.field}\\b`), spec.label)));
}

const IGNORED = /^(\w+) is ignored by the (Segmind API|local backend)$/;

/** One warning of the request in the app's words. */
export function plainWarning(warning: string): string {
  const m = IGNORED.exec(warning);
  const spec = m ? (REQUEST_FIELDS as Partial<Record<string, (typeof REQUEST_FIELDS)[FieldName]>>)[m[1]] : undefined;
  if (m && spec) return `${spec.label} is not used by ${m[2] === 'Segmind API' ? 'Segmind' : 'this device'}.`;
  return sentence(plainText(warning));
}
