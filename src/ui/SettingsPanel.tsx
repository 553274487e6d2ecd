/**
 * One control per request field, rendered from REQUEST_FIELDS (label, range, default, one-line help), in the order and
 * the words of src/store/form.ts. Generate pressed with a setting at fault brings the focus to the first one.
 */
import { useEffect, useId, useRef, type RefObject } from 'react';
import { fieldDefault, REQUEST_FIELDS, type Backend, type FieldName } from '../contract/request.ts';
import { actions, useApp, useView } from '../store/index.ts';
import { ADVANCED_FIELDS, defaultWords, draftNumber, isAdvancedField, MAIN_FIELDS, optionLabel, plainText, rangeWords } from '../store/form.ts';

/** Fields that get a slider beside the number box. */
const SLIDERS = new Set<FieldName>(['motion', 'fps', 'cond_aug']);

/** Moves the focus to the field the store asks for (Generate pressed with it at fault), opening "Advanced" if needed. */
function useFocusFieldToFix(section: RefObject<HTMLElement | null>, advanced: RefObject<HTMLDetailsElement | null>) {
  const fix = useApp((s) => s.fieldToFix);
  useEffect(() => {
    if (!fix) return;
    if (isAdvancedField(fix.field) && advanced.current) advanced.current.open = true;
    const control = section.current?.querySelector<HTMLElement>(`[data-field="${fix.field}"] [data-control]`);
    if (!control) return;
    control.focus({ preventScroll: true });
    control.scrollIntoView({ block: 'center' });
  }, [fix, section, advanced]);
}

export function SettingsPanel() {
  const view = useView();
  const running = view.running;
  const backend = view.decision.backend;
  const errorCount = Object.keys(view.check.fieldErrors).length;
  const sectionRef = useRef<HTMLElement>(null);
  const advancedRef = useRef<HTMLDetailsElement>(null);
  useFocusFieldToFix(sectionRef, advancedRef);
  return (
    <section className="card" aria-labelledby="settings-heading" ref={sectionRef}>
      <div className="card-head">
        <h2 id="settings-heading"><span className="step" aria-hidden="true">2</span>Settings</h2>
        <button type="button" className="button ghost small" onClick={() => actions().resetSettings()} disabled={running}>Reset to defaults</button>
      </div>
      <ModelDefaults />
      <fieldset className="fields" disabled={running}>
        <legend className="visually-hidden">Video settings</legend>
        {MAIN_FIELDS.map((name) => <Field key={name} name={name} backend={backend} />)}
      </fieldset>
      <details className="advanced" ref={advancedRef}>
        <summary>Advanced (this device only)</summary>
        <fieldset className="fields" disabled={running}>
          <legend className="visually-hidden">Advanced settings for generating on this device</legend>
          {ADVANCED_FIELDS.map((name) => <Field key={name} name={name} backend={backend} />)}
        </fieldset>
      </details>
      {view.check.fieldErrors[''] && <p className="field-error" role="alert">{view.check.fieldErrors['']}</p>}
      {errorCount === 0 && view.check.warnings.length > 0 && (
        <ul className="warnings muted">{view.check.warnings.map((w) => <li key={w}>{w}</li>)}</ul>
      )}
    </section>
  );
}

/** The selected model's own steps and guidance (the fast model's 4 steps without guidance), and the way back to them. */
function ModelDefaults() {
  const view = useView();
  const note = view.modelDefaults;
  if (!note) return null;
  return (
    <div className="model-defaults" data-testid="model-defaults" role="status">
      <p>
        {note.text} {note.differs ? note.differs : 'The settings use them.'}
      </p>
      {note.differs && (
        <button type="button" className="button small" onClick={() => actions().useModelSettings()} disabled={view.running} data-testid="use-model-settings">
          {note.action}
        </button>
      )}
    </div>
  );
}

function usedBy(name: FieldName, backend: Backend): boolean {
  return REQUEST_FIELDS[name].backends.includes(backend);
}

function Field({ name, backend }: { name: FieldName; backend: Backend }) {
  const spec = REQUEST_FIELDS[name];
  const value = useApp((s) => s.draft[name]);
  const sliderValue = useApp((s) => draftNumber(s.draft, name));
  const resolution = useApp((s) => s.draft.resolution);
  const lastSeed = useApp((s) => s.result?.seed);
  const view = useView();
  const error = view.check.fieldErrors[name];
  const id = useId();
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedBy = error ? `${helpId} ${errorId}` : helpId;
  const used = usedBy(name, backend);
  const set = (v: string | boolean) => actions().setField(name, v);
  const scope = spec.backends.length === 1 ? (spec.backends[0] === 'local' ? 'This device only' : 'Segmind only') : undefined;
  // a model may recommend its own steps and guidance (manifest.requestDefaults): the box shows that default
  const modelDefault = backend === 'local' ? view.model?.manifest?.requestDefaults : undefined;
  const ownDefault = modelDefault ? fieldDefault(name, { requestDefaults: modelDefault }) : undefined;
  const defaultText = ownDefault !== undefined ? String(ownDefault) : spec.default === null ? '' : String(spec.default);

  let control;
  if (spec.type === 'boolean') {
    control = (
      <span className="check">
        <input id={id} data-control type="checkbox" checked={value === true} onChange={(e) => set(e.target.checked)} aria-describedby={describedBy} aria-invalid={!!error} />
        <label htmlFor={id}>{spec.label}</label>
      </span>
    );
  } else if (spec.type === 'enum' || spec.type === 'resolution') {
    const options = spec.type === 'resolution' ? [...(spec.options ?? []), 'custom'] : spec.options ?? [];
    control = (
      <select id={id} data-control value={String(value ?? spec.default)} onChange={(e) => set(e.target.value)} aria-describedby={describedBy} aria-invalid={!!error}>
        {options.map((o) => <option key={o} value={o}>{optionLabel(o)}</option>)}
      </select>
    );
  } else {
    const text = typeof value === 'string' ? value : '';
    control = (
      <div className="row">
        {SLIDERS.has(name) && (
          <input
            type="range" className="slider" min={spec.min} max={spec.max} step={spec.step}
            value={sliderValue ?? Number(spec.default)}
            onChange={(e) => set(e.target.value)} aria-label={`${spec.label} slider`} aria-describedby={describedBy} tabIndex={-1}
          />
        )}
        <input
          id={id} data-control className={SLIDERS.has(name) ? 'number short' : 'number'} type="text" inputMode={spec.type === 'integer' ? 'numeric' : 'decimal'}
          value={text} placeholder={defaultText} onChange={(e) => set(e.target.value)}
          aria-describedby={describedBy} aria-invalid={!!error} autoComplete="off" spellCheck={false}
        />
        {name === 'seed' && (
          <button type="button" className="button icon" onClick={() => actions().rollSeed()} aria-label="Pick a random seed" title="Pick a random seed">
            <svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.8"><rect x="3" y="3" width="18" height="18" rx="4" /><circle cx="8" cy="8" r="1.3" fill="currentColor" /><circle cx="16" cy="8" r="1.3" fill="currentColor" /><circle cx="12" cy="12" r="1.3" fill="currentColor" /><circle cx="8" cy="16" r="1.3" fill="currentColor" /><circle cx="16" cy="16" r="1.3" fill="currentColor" /></svg>
          </button>
        )}
        {name === 'seed' && text !== '-1' && (
          <button type="button" className="button ghost small" onClick={() => set('-1')} title="A new random seed each time">Random</button>
        )}
      </div>
    );
  }

  return (
    <div className={`field${used ? '' : ' unused'}${error ? ' invalid' : ''}`} data-field={name}>
      <div className="field-head">
        {spec.type !== 'boolean' ? <label htmlFor={id} className="field-label">{spec.label}</label> : control}
        {scope && <span className={`badge${used ? '' : ' off'}`}>{scope}</span>}
      </div>
      {spec.type !== 'boolean' && control}
      <p id={helpId} className="help">
        {plainText(spec.help)}{spec.type === 'integer' || spec.type === 'number' ? ` ${defaultWords(name, ownDefault)}; ${rangeWords(name, spec.range)}.` : ''}
        {!used && ` Not used by ${backend === 'segmind' ? 'Segmind' : 'this device'}.`}
        {name === 'seed' && lastSeed !== undefined && ` Last video used ${lastSeed}.`}
      </p>
      {error && <p id={errorId} className="field-error" data-testid={`error-${name}`}>{error}</p>}
      {name === 'resolution' && resolution === 'custom' && (
        <div className="subfields">
          <Field name="width" backend={backend} />
          <Field name="height" backend={backend} />
        </div>
      )}
    </div>
  );
}
