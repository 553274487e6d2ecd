/**
 * The settings form: a draft of raw values, turned into a request with `validateRequest` for the chosen backend.
 * Errors are keyed by field so each control shows its own message, in the app's words (./form.ts).
 */
import {
  FIELD_NAMES, REQUEST_FIELDS, validateRequest,
  type FieldName, type SvdRequest, type ValidationContext,
} from '../contract/request.ts';
import type { Draft } from './persist.ts';
import { numberText, plainRequestError, plainWarning } from './form.ts';

/** The form's starting values: every default from REQUEST_FIELDS (width/height empty). */
export function defaultDraft(): Draft {
  const draft: Draft = {};
  for (const name of FIELD_NAMES) {
    const d = REQUEST_FIELDS[name].default;
    if (d === null) draft[name] = '';
    else draft[name] = typeof d === 'boolean' ? d : String(d);
  }
  return draft;
}

/** Fills missing fields of a restored draft with defaults (never overwrites what the user set). */
export function completeDraft(stored: Draft): Draft {
  return { ...defaultDraft(), ...stored };
}

/**
 * The draft as `validateRequest` input: blank means "default"; width/height only for a custom resolution; a decimal
 * comma read as a dot ("0,05").
 */
export function draftToInput(draft: Draft): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const custom = draft.resolution === 'custom';
  for (const name of FIELD_NAMES) {
    const v = draft[name];
    if (v === undefined) continue;
    if ((name === 'width' || name === 'height') && !custom) continue;
    if (typeof v === 'string') {
      const t = v.trim();
      if (t === '') continue;
      input[name] = numberText(name, t);
    } else input[name] = v;
  }
  return input;
}

export interface DraftCheck {
  request?: SvdRequest;
  /** one message per field at fault ('' = the whole form), naming the field by its label */
  fieldErrors: Partial<Record<FieldName | '', string>>;
  warnings: string[];
}

/** The draft checked for a backend (contextForModel(...) for a local model; {backend: 'segmind'} for Segmind). */
export function checkDraft(draft: Draft, ctx: ValidationContext): DraftCheck {
  const result = validateRequest(draftToInput(draft), ctx);
  if (result.ok) return { request: result.request, fieldErrors: {}, warnings: result.warnings.map(plainWarning) };
  const fieldErrors: DraftCheck['fieldErrors'] = {};
  for (const e of result.errors) {
    const key = (FIELD_NAMES as readonly string[]).includes(e.field) ? (e.field as FieldName) : '';
    fieldErrors[key] ??= plainRequestError(e);
  }
  return { fieldErrors, warnings: [] };
}
