/**
 * `/flows/:namespace/:id/execute`: a form generated from the flow's typed `inputs` (a control per input type, the
 * defaults prefilled), execution labels and an optional schedule date, sent as multipart to
 * `POST /executions/{ns}/{id}`; then the new execution's page. Problems are shown at the field they concern: the
 * browser's checks first, then the server's `SLU_INPUT_INVALID` problems mapped to their input.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useMemo, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { api, ApiError, query, request } from '../api';
import { EmptyState, ErrorMessage, PageHeader, Spinner } from '../components/common';
import { Link, navigate, seg } from '../router';
import type { Execution, Flow, FlowInput } from '../types';
import { isoToLocalInput, localInputToIso } from './executions/filters';
import type { FieldValue } from './execute/inputs';
import { appendField, BAD_NUMBER, choicesOf, clientProblem, controlOf, defaultText, hasDefault, initialValue, isExpressionDefault, isRequired, typeHint } from './execute/inputs';
import './execute/execute.css';

interface LabelRow {
  readonly key: string;
  readonly value: string;
  readonly uid: number;
}

interface Problems {
  /** By input id. */
  readonly fields: Record<string, string>;
  readonly labels?: string;
  readonly scheduleDate?: string;
  /** What maps to no field: shown by ErrorMessage. */
  readonly other?: unknown;
}

const NO_PROBLEMS: Problems = { fields: {} };

const fieldId = (inputId: string): string => `input-${inputId}`;

/** The server's answer to a bad request, spread over the fields it names; the rest stays a message. */
function problemsOf(error: unknown, declared: readonly FlowInput[]): Problems {
  if (!(error instanceof ApiError)) return { fields: {}, other: error };
  const details = (error.details ?? {}) as { problems?: unknown; parameter?: unknown; in?: unknown };
  if (error.code === 'SLU_INPUT_INVALID' && Array.isArray(details.problems)) {
    const known = new Set(declared.map((i) => i.id));
    const fields: Record<string, string> = {};
    const rest: string[] = [];
    for (const problem of details.problems as { input?: unknown; message?: unknown }[]) {
      const input = typeof problem.input === 'string' ? problem.input : '';
      const message = typeof problem.message === 'string' ? problem.message : JSON.stringify(problem);
      if (known.has(input) && fields[input] === undefined) fields[input] = message;
      else rest.push(`${input}: ${message}`);
    }
    return {
      fields,
      ...(rest.length > 0 ? { other: new ApiError(error.status, error.code, `invalid inputs: ${rest.join('; ')}`) } : {}),
    };
  }
  if (details.parameter === 'labels') return { fields: {}, labels: error.message };
  if (details.parameter === 'scheduleDate') return { fields: {}, scheduleDate: error.message };
  return { fields: {}, other: error };
}

/** The control of one input. */
function InputControl({
  input,
  value,
  onChange,
  invalid,
  describedBy,
}: {
  input: FlowInput;
  value: FieldValue;
  onChange: (value: FieldValue) => void;
  invalid: boolean;
  describedBy: string | undefined;
}) {
  const control = controlOf(input);
  const id = fieldId(input.id);
  const common = {
    id,
    name: input.id,
    'aria-invalid': invalid || undefined,
    'aria-describedby': describedBy,
    'aria-required': isRequired(input) && !hasDefault(input) ? true : undefined,
    'data-input': input.id,
  } as const;
  const text = typeof value === 'string' ? value : '';
  const placeholder = isExpressionDefault(input) ? `default: ${String(input.defaults)}` : undefined;
  switch (control) {
    case 'checkbox':
      return (
        <label className="xe-toggle">
          <input {...common} type="checkbox" role="switch" checked={value === 'true'} onChange={(event) => onChange(event.target.checked ? 'true' : 'false')} />
          <span>{value === 'true' ? 'true' : 'false'}</span>
        </label>
      );
    case 'tristate':
      return (
        <select {...common} value={text} onChange={(event) => onChange(event.target.value)}>
          <option value="">— not set —</option>
          <option value="true">true</option>
          <option value="false">false</option>
        </select>
      );
    case 'select': {
      const options = choicesOf(input);
      return (
        <select {...common} value={text} onChange={(event) => onChange(event.target.value)}>
          {!hasDefault(input) || !isRequired(input) ? <option value="">— choose —</option> : null}
          {text !== '' && !options.includes(text) ? <option value={text}>{text}</option> : null}
          {options.map((choice) => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </select>
      );
    }
    case 'combo':
      return (
        <>
          <input {...common} type="text" list={`${id}-values`} value={text} placeholder={placeholder ?? 'Choose or type a value'} onChange={(event) => onChange(event.target.value)} />
          <datalist id={`${id}-values`}>
            {choicesOf(input).map((choice) => (
              <option key={choice} value={choice} />
            ))}
          </datalist>
        </>
      );
    case 'multiselect': {
      const chosen = Array.isArray(value) ? (value as readonly string[]) : [];
      return (
        <div className="xe-multi" role="group" id={id} aria-describedby={describedBy} aria-invalid={invalid || undefined} data-input={input.id}>
          {choicesOf(input).map((choice) => (
            <label key={choice} className="xe-multi-item">
              <input
                type="checkbox"
                checked={chosen.includes(choice)}
                onChange={(event) => onChange(event.target.checked ? [...chosen, choice] : chosen.filter((c) => c !== choice))}
              />
              {choice}
            </label>
          ))}
        </div>
      );
    }
    case 'int':
    case 'float':
      return (
        <input
          {...common}
          type="number"
          step={control === 'int' ? 1 : 'any'}
          min={typeof input.min === 'number' ? input.min : undefined}
          max={typeof input.max === 'number' ? input.max : undefined}
          className="xe-number"
          value={text === BAD_NUMBER ? '' : text}
          placeholder={placeholder}
          // What the browser cannot read as a number reads as '': keep it apart from an empty field.
          onChange={(event) => onChange(event.target.validity.badInput ? BAD_NUMBER : event.target.value)}
        />
      );
    case 'date':
      return <input {...common} type="date" value={text} onChange={(event) => onChange(event.target.value)} />;
    case 'time':
      return <input {...common} type="time" step={1} value={text} onChange={(event) => onChange(event.target.value)} />;
    case 'datetime':
      return <input {...common} type="datetime-local" step={1} value={text} onChange={(event) => onChange(event.target.value)} />;
    case 'file':
      return (
        <input
          {...common}
          type="file"
          onChange={(event) => {
            const file = event.target.files?.[0];
            onChange(file ?? null);
          }}
        />
      );
    case 'json':
    case 'yaml':
    case 'list':
      return (
        <textarea
          {...common}
          rows={control === 'list' ? 4 : 6}
          spellCheck={false}
          value={text}
          placeholder={placeholder ?? (control === 'list' ? 'one item a line' : undefined)}
          onChange={(event) => onChange(event.target.value)}
        />
      );
    case 'password':
      return <input {...common} type="password" autoComplete="off" value={text} onChange={(event) => onChange(event.target.value)} />;
    case 'email':
      return <input {...common} type="email" value={text} placeholder={placeholder} onChange={(event) => onChange(event.target.value)} />;
    case 'url':
      return <input {...common} type="url" value={text} placeholder={placeholder ?? 'https://'} onChange={(event) => onChange(event.target.value)} />;
    case 'duration':
      return <input {...common} type="text" value={text} placeholder={placeholder ?? 'PT30S'} onChange={(event) => onChange(event.target.value)} />;
    default:
      return <input {...common} type="text" value={text} placeholder={placeholder} onChange={(event) => onChange(event.target.value)} />;
  }
}

function InputField({ input, value, onChange, problem }: { input: FlowInput; value: FieldValue; onChange: (value: FieldValue) => void; problem: string | undefined }) {
  const required = isRequired(input) && !hasDefault(input);
  const hint = typeHint(input);
  const descriptionId = input.description ? `${fieldId(input.id)}-description` : undefined;
  const errorId = problem ? `${fieldId(input.id)}-error` : undefined;
  const describedBy = [errorId, descriptionId].filter(Boolean).join(' ') || undefined;
  const fallback = defaultText(input);
  return (
    <div className={`xe-field ${problem ? 'xe-field-invalid' : ''}`} data-testid={`field-${input.id}`}>
      <div className="xe-label-row">
        <label htmlFor={fieldId(input.id)} className="xe-label">
          {input.displayName ?? input.id}
          {required ? (
            <span className="xe-required" aria-label="required" title="Required">
              {' '}*
            </span>
          ) : null}
        </label>
        {input.displayName ? <code className="muted small">{input.id}</code> : null}
        <span className="chip xe-type">{input.type}</span>
      </div>
      {input.description ? (
        <p id={descriptionId} className="muted small xe-description">
          {input.description}
        </p>
      ) : null}
      <InputControl input={input} value={value} onChange={onChange} invalid={Boolean(problem)} describedBy={describedBy} />
      {problem ? (
        <p id={errorId} className="field-error" data-testid={`error-${input.id}`}>
          {problem}
        </p>
      ) : null}
      {hint || fallback ? (
        <p className="muted small xe-hint">
          {hint}
          {hint && fallback ? ' ' : ''}
          {fallback ? (
            <>
              Default: <code>{fallback.length > 120 ? `${fallback.slice(0, 117)}…` : fallback}</code>
              {controlOf(input) === 'file' ? ' (used when no file is chosen)' : ''}
            </>
          ) : null}
        </p>
      ) : null}
    </div>
  );
}

export default function ExecutePage({ namespace, id }: { namespace: string; id: string }) {
  const queryClient = useQueryClient();
  const formId = useId();
  const flow = useQuery({
    queryKey: ['flow', namespace, id],
    queryFn: () => api<Flow>(`/flows/${seg(namespace)}/${seg(id)}`),
  });
  const inputs = useMemo(() => flow.data?.inputs ?? [], [flow.data]);

  const [values, setValues] = useState<Record<string, FieldValue>>({});
  const [labels, setLabels] = useState<LabelRow[]>([]);
  const [schedule, setSchedule] = useState('');
  const [problems, setProblems] = useState<Problems>(NO_PROBLEMS);
  const nextUid = useRef(1);
  const formRef = useRef<HTMLFormElement>(null);

  // The defaults, once the flow is loaded (and again should another revision with other inputs be loaded).
  const inputsKey = JSON.stringify(inputs.map((i) => [i.id, i.type, i.defaults]));
  useEffect(() => {
    setValues(Object.fromEntries(inputs.map((input) => [input.id, initialValue(input)])));
    setProblems(NO_PROBLEMS);
  }, [inputsKey]);

  const focusFirstProblem = (found: Problems): void => {
    const first = inputs.find((input) => found.fields[input.id] !== undefined);
    const target = first
      ? formRef.current?.querySelector<HTMLElement>(`#${CSS.escape(fieldId(first.id))}, #${CSS.escape(fieldId(first.id))} input`)
      : found.labels
        ? formRef.current?.querySelector<HTMLElement>('[data-label-key]')
        : found.scheduleDate
          ? formRef.current?.querySelector<HTMLElement>('#schedule-date')
          : undefined;
    target?.focus();
  };

  const execute = useMutation({
    mutationFn: async () => {
      const form = new FormData();
      for (const input of inputs) appendField(form, input, values[input.id] ?? initialValue(input));
      const labelList = labels.filter((l) => l.key.trim() !== '' || l.value.trim() !== '').map((l) => `${l.key.trim()}:${l.value}`);
      const scheduleDate = localInputToIso(schedule);
      const response = await request(`/executions/${seg(namespace)}/${seg(id)}${query({ labels: labelList, scheduleDate })}`, {
        method: 'POST',
        body: form,
        headers: { accept: 'application/json' },
      });
      return (await response.json()) as Execution;
    },
    onSuccess: (execution) => {
      void queryClient.invalidateQueries({ queryKey: ['executions'] });
      navigate(`/executions/${seg(execution.id)}`);
    },
    onError: (error) => {
      const found = problemsOf(error, inputs);
      setProblems(found);
      // After the render that shows them.
      setTimeout(() => focusFirstProblem(found), 0);
    },
  });

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const fields: Record<string, string> = {};
    for (const input of inputs) {
      const problem = clientProblem(input, values[input.id] ?? initialValue(input));
      if (problem) fields[input.id] = problem;
    }
    let labelProblem: string | undefined;
    for (const label of labels) {
      if (label.key.trim() === '' && label.value.trim() === '') continue;
      if (label.key.trim() === '') labelProblem = 'Every label needs a key.';
      else if (label.key.includes(':')) labelProblem = `The label key "${label.key}" must not contain a colon.`;
    }
    const scheduleProblem = schedule !== '' && localInputToIso(schedule) === undefined ? 'Must be a date and time.' : undefined;
    const found: Problems = { fields, ...(labelProblem ? { labels: labelProblem } : {}), ...(scheduleProblem ? { scheduleDate: scheduleProblem } : {}) };
    if (Object.keys(fields).length > 0 || labelProblem || scheduleProblem) {
      setProblems(found);
      focusFirstProblem(found);
      return;
    }
    setProblems(NO_PROBLEMS);
    execute.mutate();
  };

  const setValue = (inputId: string, value: FieldValue): void => {
    setValues((current) => ({ ...current, [inputId]: value }));
    if (problems.fields[inputId] !== undefined) {
      const rest = { ...problems.fields };
      delete rest[inputId];
      setProblems({ ...problems, fields: rest });
    }
  };

  const flowPath = `/flows/${seg(namespace)}/${seg(id)}`;
  const header = (
    <PageHeader
      title={
        <>
          Execute <span className="xe-flow-id">{id}</span>
        </>
      }
      subtitle={
        <>
          <Link to={`/flows${query({ namespace })}`}>{namespace}</Link> · <Link to={flowPath}>back to the flow</Link>
          {flow.data ? ` · revision ${flow.data.revision}` : ''}
        </>
      }
    />
  );

  if (flow.isPending) {
    return (
      <>
        {header}
        <Spinner label="Loading the flow…" />
      </>
    );
  }
  if (flow.isError) {
    const notFound = flow.error instanceof ApiError && flow.error.status === 404;
    return (
      <>
        {header}
        {notFound ? (
          <EmptyState
            title="No such flow"
            action={
              <Link to="/flows" className="button primary">
                Go to the flows
              </Link>
            }
          >
            There is no flow {namespace}.{id} to execute. It may have been deleted or renamed.
          </EmptyState>
        ) : (
          <ErrorMessage error={flow.error} title="The flow could not be loaded" />
        )}
      </>
    );
  }

  const current = flow.data;
  const blocked = current.deleted === true ? 'deleted' : current.disabled === true ? 'disabled' : undefined;
  const fieldProblems = Object.keys(problems.fields).length;

  return (
    <>
      {header}
      {blocked ? (
        <div className="xe-blocked" role="alert" data-testid="flow-blocked">
          <strong>This flow is {blocked}.</strong>{' '}
          {blocked === 'disabled' ? (
            <>
              A disabled flow cannot be executed: remove <code>disabled: true</code> in its <Link to={`${flowPath}/editor`}>editor</Link> to run it.
            </>
          ) : (
            'A deleted flow cannot be executed.'
          )}
        </div>
      ) : null}
      <form ref={formRef} className="xe-form" onSubmit={submit} noValidate aria-labelledby={`${formId}-title`} data-testid="execute-form">
        <section className="card xe-inputs">
          <h2 id={`${formId}-title`} className="xe-section-title">
            Inputs
          </h2>
          {current.description ? <p className="muted small">{current.description}</p> : null}
          {inputs.length === 0 ? (
            <p className="muted" data-testid="no-inputs">
              This flow has no inputs: one click runs it.
            </p>
          ) : (
            inputs.map((input) => (
              <InputField key={input.id} input={input} value={values[input.id] ?? initialValue(input)} onChange={(value) => setValue(input.id, value)} problem={problems.fields[input.id]} />
            ))
          )}
        </section>

        <details className="card xe-options" open={labels.length > 0 || schedule !== '' || Boolean(problems.labels || problems.scheduleDate) || undefined}>
          <summary>Labels and schedule</summary>
          <div className="xe-option-body">
            <fieldset className="xe-labels" aria-describedby={problems.labels ? 'labels-error' : undefined}>
              <legend>Execution labels</legend>
              {(current.labels ?? []).length > 0 ? (
                <p className="muted small">
                  The flow's labels are added too: {(current.labels ?? []).map((l) => `${l.key}:${l.value}`).join(', ')} (a label given here replaces the flow's of the same key).
                </p>
              ) : null}
              {labels.map((label, index) => (
                <div key={label.uid} className="row xe-label-edit" data-testid="label-row">
                  <input
                    type="text"
                    aria-label={`Label ${index + 1} key`}
                    placeholder="key"
                    value={label.key}
                    data-label-key
                    aria-invalid={problems.labels ? true : undefined}
                    onChange={(event) => setLabels(labels.map((l) => (l.uid === label.uid ? { ...l, key: event.target.value } : l)))}
                  />
                  <input
                    type="text"
                    aria-label={`Label ${index + 1} value`}
                    placeholder="value"
                    value={label.value}
                    data-label-value
                    onChange={(event) => setLabels(labels.map((l) => (l.uid === label.uid ? { ...l, value: event.target.value } : l)))}
                  />
                  <button type="button" className="ghost" aria-label={`Remove label ${index + 1}`} onClick={() => setLabels(labels.filter((l) => l.uid !== label.uid))}>
                    ×
                  </button>
                </div>
              ))}
              <button type="button" onClick={() => setLabels([...labels, { key: '', value: '', uid: nextUid.current++ }])} data-testid="add-label">
                + Add a label
              </button>
              {problems.labels ? (
                <p id="labels-error" className="field-error" data-testid="error-labels">
                  {problems.labels}
                </p>
              ) : null}
            </fieldset>
            <div className="field xe-schedule">
              <label htmlFor="schedule-date">Start at (optional)</label>
              <div className="row">
                <input
                  id="schedule-date"
                  type="datetime-local"
                  step={1}
                  value={schedule}
                  min={isoToLocalInput(new Date().toISOString())}
                  aria-invalid={problems.scheduleDate ? true : undefined}
                  aria-describedby={problems.scheduleDate ? 'schedule-error' : 'schedule-hint'}
                  onChange={(event) => setSchedule(event.target.value)}
                  data-testid="schedule-date"
                />
                {schedule ? (
                  <button type="button" className="ghost" onClick={() => setSchedule('')}>
                    Clear
                  </button>
                ) : null}
              </div>
              {problems.scheduleDate ? (
                <p id="schedule-error" className="field-error" data-testid="error-scheduleDate">
                  {problems.scheduleDate}
                </p>
              ) : (
                <p id="schedule-hint" className="muted small">
                  Empty: now. Otherwise the execution waits, CREATED, until this time ({Intl.DateTimeFormat().resolvedOptions().timeZone}).
                </p>
              )}
            </div>
          </div>
        </details>

        {fieldProblems > 0 ? (
          <p className="field-error xe-summary" role="alert" data-testid="form-problems">
            {fieldProblems === 1 ? 'One input needs' : `${fieldProblems} inputs need`} attention: see the highlighted field{fieldProblems === 1 ? '' : 's'}.
          </p>
        ) : null}
        {problems.other ? <ErrorMessage error={problems.other} title="The execution could not be created" /> : null}

        <div className="row xe-actions">
          <button type="submit" className="primary" disabled={execute.isPending || blocked !== undefined} data-testid="execute-submit">
            {execute.isPending ? 'Starting…' : schedule ? 'Schedule the execution' : 'Execute'}
          </button>
          <Link to={flowPath} className="button">
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}
