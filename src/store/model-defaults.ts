/**
 * The settings a model recommends (manifest.requestDefaults: AnimateLCM's 4 steps without guidance) in the settings
 * form. Pure: the store applies them when the selected model changes, the form shows them in words.
 *
 * The rule: a model setting (steps, min/max guidance) the user has not set follows the selected model's
 * recommendation — the model's requestDefaults, else the request defaults (25 steps, guidance 1 to 3). A value the user
 * typed is kept across model switches (the form then says it differs and offers the model's values back). "Set by the
 * user" means typed and different from the recommendation of the model selected at the time; typing the recommended
 * value, clearing the box, "Reset to defaults" and "Use the model's settings" make a field follow the model again.
 */
import { fieldDefault, type FieldName } from '../contract/request.ts';
import type { ModelManifest } from '../contract/manifest.ts';
import type { Draft } from './persist.ts';
import { parseDecimal } from './form.ts';

/** The fields a model may recommend values for. */
export const MODEL_FIELDS = ['steps', 'min_guidance', 'max_guidance'] as const satisfies readonly FieldName[];
export type ModelField = (typeof MODEL_FIELDS)[number];

export function isModelField(name: FieldName): name is ModelField {
  return (MODEL_FIELDS as readonly string[]).includes(name);
}

type ManifestFacts = Pick<ModelManifest, 'requestDefaults' | 'sampler'> | undefined;

/** The recommended value of each model field for `manifest`, as the form shows it ("4", "1"). */
export function recommendedValues(manifest: ManifestFacts): Record<ModelField, string> {
  const ctx = { requestDefaults: manifest?.requestDefaults };
  return Object.fromEntries(MODEL_FIELDS.map((f) => [f, String(fieldDefault(f, ctx))])) as Record<ModelField, string>;
}

/** Whether the form's value is the recommended one ("4.0", "4,0" and "4" are the same; blank means the recommendation). */
export function sameValue(value: string | boolean | undefined, recommended: string): boolean {
  if (typeof value !== 'string' || value.trim() === '') return true;
  return parseDecimal(value) === Number(recommended);
}

/**
 * The draft with every model field the user has not set replaced by `manifest`'s recommendation; the same object
 * when nothing changes.
 */
export function adoptModelDefaults(draft: Draft, setByUser: readonly ModelField[], manifest: ManifestFacts): Draft {
  const want = recommendedValues(manifest);
  let next = draft;
  for (const f of MODEL_FIELDS) {
    if (setByUser.includes(f) || draft[f] === want[f]) continue;
    if (next === draft) next = { ...draft };
    next[f] = want[f];
  }
  return next;
}

/** `setByUser` after the user typed `value` into `field` while `manifest`'s model was selected. */
export function markSetByUser(setByUser: readonly ModelField[], field: ModelField, value: string | boolean, manifest: ManifestFacts): ModelField[] {
  const rest = setByUser.filter((f) => f !== field);
  return sameValue(value, recommendedValues(manifest)[field]) ? rest : [...rest, field];
}

/**
 * Which model fields a draft stored before this rule existed had set by hand: those that differ from the request
 * defaults (no model recommended anything else then).
 */
export function inferSetByUser(stored: Draft): ModelField[] {
  const plain = recommendedValues(undefined);
  return MODEL_FIELDS.filter((f) => stored[f] !== undefined && !sameValue(stored[f], plain[f]));
}

export interface ModelDefaultsNote {
  /** e.g. "This fast model (AnimateLCM) is made for 4 steps without guidance." */
  text: string;
  /** the form's steps / guidance differ from the recommendation: what the user has, in words */
  differs?: string;
  /** the button's words, e.g. "Use 4 steps without guidance" */
  action: string;
}

/** "4 steps without guidance", "30 steps with guidance 1 to 2.5", "25 steps with guidance 3". */
export function describeSettings(v: Record<ModelField, string | boolean | undefined>, recommended = recommendedValues(undefined)): string {
  const num = (f: ModelField) => (typeof v[f] === 'string' && v[f].trim() !== '' ? parseDecimal(v[f]) : Number(recommended[f]));
  const steps = num('steps');
  const min = num('min_guidance');
  const max = num('max_guidance');
  const guidance = max <= 1 ? 'without guidance' : min === max ? `with guidance ${max}` : `with guidance ${min} to ${max}`;
  return `${steps} step${steps === 1 ? '' : 's'} ${guidance}`;
}

/** What the form says about a model with its own recommended settings; undefined for a model without them. */
export function modelDefaultsNote(manifest: ManifestFacts, draft: Draft): ModelDefaultsNote | undefined {
  if (!manifest?.requestDefaults || Object.keys(manifest.requestDefaults).length === 0) return undefined;
  const want = recommendedValues(manifest);
  const recommended = describeSettings(want, want);
  const who = manifest.sampler === 'animatelcm' ? 'This fast model (AnimateLCM)' : 'This model';
  const text = `${who} is made for ${recommended}.`;
  const differs = MODEL_FIELDS.some((f) => !sameValue(draft[f], want[f]))
    ? `Your settings: ${describeSettings({ steps: draft.steps, min_guidance: draft.min_guidance, max_guidance: draft.max_guidance }, want)}.`
    : undefined;
  return { text, differs, action: `Use ${recommended}` };
}
