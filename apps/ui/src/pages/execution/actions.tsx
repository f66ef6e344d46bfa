/**
 * The execution's actions: Kill, Restart, Replay, Resume. Each is enabled only in the states the API accepts it in,
 * the destructive ones are confirmed, and an error is shown in the dialog. The live follow then shows the new state.
 */
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, query } from '../../api';
import { ErrorMessage, Spinner } from '../../components/common';
import { navigate, seg } from '../../router';
import { isTerminal } from '../../types';
import type { Execution, Flow, FlowInput } from '../../types';
import { onResumeInputs, pausedRun, runLabel } from './model';
import { ConfirmDialog, Dialog } from './parts';

/** The states `DELETE /executions/{id}/kill` accepts (KILLING again too, but a button would only repeat it). */
export const KILLABLE = ['CREATED', 'QUEUED', 'RUNNING', 'PAUSED', 'RESTARTED', 'RETRYING'];
/** The states `POST /executions/{id}/restart` accepts. */
export const RESTARTABLE = ['FAILED'];

const path = (execution: Execution, action: string): string => `/executions/${seg(execution.id)}/${action}`;

export function ExecutionActions({ execution, onChanged }: { execution: Execution; onChanged: (execution?: Execution) => void }) {
  const state = execution.state.current;
  const [dialog, setDialog] = useState<'kill' | 'restart' | 'resume' | undefined>();
  const kill = useMutation({
    mutationFn: () => api<Execution>(path(execution, 'kill'), { method: 'DELETE' }),
    onSuccess: (updated) => {
      setDialog(undefined);
      onChanged(updated);
    },
  });
  const restart = useMutation({
    mutationFn: () => api<Execution>(path(execution, 'restart'), { method: 'POST' }),
    onSuccess: (updated) => {
      setDialog(undefined);
      onChanged(updated);
    },
  });
  const canKill = KILLABLE.includes(state);
  const canRestart = RESTARTABLE.includes(state);
  return (
    <>
      {state === 'PAUSED' ? (
        <button type="button" className="primary" onClick={() => setDialog('resume')} data-testid="action-resume">
          ▶ Resume
        </button>
      ) : null}
      <button
        type="button"
        className="danger"
        disabled={!canKill}
        title={canKill ? 'Stop this execution and its running tasks' : `A ${state} execution cannot be killed`}
        onClick={() => {
          kill.reset();
          setDialog('kill');
        }}
        data-testid="action-kill"
      >
        ■ Kill
      </button>
      <button
        type="button"
        disabled={!canRestart}
        title={canRestart ? 'Run the failed tasks again, in this execution' : 'Only a FAILED execution can be restarted'}
        onClick={() => {
          restart.reset();
          setDialog('restart');
        }}
        data-testid="action-restart"
      >
        ↻ Restart
      </button>
      <ReplayButton execution={execution} />
      <ConfirmDialog
        open={dialog === 'kill'}
        title="Kill this execution?"
        confirmLabel="Kill"
        danger
        pending={kill.isPending}
        error={kill.error}
        onConfirm={() => kill.mutate()}
        onCancel={() => setDialog(undefined)}
      >
        <p>
          Execution <code>{execution.id}</code> of <code>{execution.flowId}</code> stops: its running tasks are killed and it ends KILLED.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === 'restart'}
        title="Restart this execution?"
        confirmLabel="Restart"
        pending={restart.isPending}
        error={restart.error}
        onConfirm={() => restart.mutate()}
        onCancel={() => setDialog(undefined)}
      >
        <p>
          The failed task runs of <code>{execution.id}</code> run again in this same execution; the tasks that succeeded keep their outputs.
        </p>
      </ConfirmDialog>
      {dialog === 'resume' ? <ResumeDialog execution={execution} onClose={() => setDialog(undefined)} onResumed={() => onChanged()} /> : null}
    </>
  );
}

/** Replay: a new execution from this one (from a task run when given), then its page. */
export function ReplayButton({ execution, taskRunId, label = '⟲ Replay', className }: { execution: Execution; taskRunId?: string; label?: string; className?: string }) {
  const [open, setOpen] = useState(false);
  const replay = useMutation({
    mutationFn: () => api<Execution>(`${path(execution, 'replay')}${query({ taskRunId })}`, { method: 'POST' }),
    onSuccess: (created) => {
      setOpen(false);
      navigate(`/executions/${seg(created.id)}`);
    },
  });
  const terminal = isTerminal(execution.state.current);
  const run = taskRunId ? execution.taskRunList?.find((r) => r.id === taskRunId) : undefined;
  return (
    <>
      <button
        type="button"
        className={className}
        disabled={!terminal}
        title={terminal ? 'Run this execution again as a new execution' : 'An execution can be replayed once it has ended'}
        onClick={() => {
          replay.reset();
          setOpen(true);
        }}
        data-testid={taskRunId ? 'action-replay-task' : 'action-replay'}
      >
        {label}
      </button>
      <ConfirmDialog
        open={open}
        title={run ? `Replay from ${runLabel(run)}?` : 'Replay this execution?'}
        confirmLabel="Replay"
        pending={replay.isPending}
        error={replay.error}
        onConfirm={() => replay.mutate()}
        onCancel={() => setOpen(false)}
      >
        <p>
          {run ? (
            <>
              A new execution starts with the same inputs, keeping what ran before <code>{run.taskId}</code>, and runs from that task on.
            </>
          ) : (
            <>A new execution of the same flow revision starts with the same inputs. This one is left as it is.</>
          )}
        </p>
      </ConfirmDialog>
    </>
  );
}

/** A form field for one `onResume` input; its value as form data (several for a multi-select), or a file. */
function InputField({ input, error }: { input: FlowInput; error: string | undefined }) {
  const id = `resume-input-${input.id}`;
  const type = String(input.type ?? 'STRING').toUpperCase();
  const defaults = input.defaults;
  const defaultText = defaults === undefined || defaults === null ? '' : typeof defaults === 'object' ? JSON.stringify(defaults, null, 2) : String(defaults);
  const values = Array.isArray(input.values) ? input.values.map(String) : [];
  let control;
  if (type === 'BOOLEAN' || type === 'BOOL') {
    control = (
      <select id={id} name={input.id} defaultValue={defaultText || ''} aria-invalid={error ? true : undefined}>
        <option value="">{input.required === false || defaultText ? '(default)' : 'choose…'}</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  } else if ((type === 'SELECT' || type === 'ENUM') && !input.allowCustomValue) {
    control = (
      <select id={id} name={input.id} defaultValue={defaultText} aria-invalid={error ? true : undefined}>
        <option value="">choose…</option>
        {values.map((value) => (
          <option key={value} value={value}>
            {value}
          </option>
        ))}
      </select>
    );
  } else if (type === 'MULTISELECT') {
    const chosen = Array.isArray(defaults) ? defaults.map(String) : [];
    control = (
      <select id={id} name={input.id} multiple defaultValue={chosen} aria-invalid={error ? true : undefined}>
        {values.map((value) => (
          <option key={value} value={value}>
            {value}
          </option>
        ))}
      </select>
    );
  } else if (type === 'FILE') {
    control = <input id={id} name={input.id} type="file" aria-invalid={error ? true : undefined} />;
  } else if (type === 'JSON' || type === 'ARRAY' || type === 'YAML') {
    control = <textarea id={id} name={input.id} rows={4} defaultValue={defaultText} aria-invalid={error ? true : undefined} />;
  } else {
    const htmlType =
      type === 'INT' || type === 'INTEGER' || type === 'FLOAT' || type === 'NUMBER'
        ? 'number'
        : type === 'SECRET'
          ? 'password'
          : type === 'EMAIL'
            ? 'email'
            : type === 'DATE'
              ? 'date'
              : type === 'TIME'
                ? 'time'
                : 'text';
    control = (
      <>
        <input
          id={id}
          name={input.id}
          type={htmlType}
          step={type === 'FLOAT' || type === 'NUMBER' ? 'any' : undefined}
          defaultValue={defaultText}
          placeholder={type === 'DATETIME' ? '2030-01-01T09:00:00Z' : type === 'DURATION' ? 'PT5M' : undefined}
          list={values.length > 0 ? `${id}-values` : undefined}
          aria-invalid={error ? true : undefined}
        />
        {values.length > 0 ? (
          <datalist id={`${id}-values`}>
            {values.map((value) => (
              <option key={value} value={value} />
            ))}
          </datalist>
        ) : null}
      </>
    );
  }
  return (
    <label className="field" htmlFor={id}>
      <span>
        {input.displayName ?? input.id}
        {input.required !== false && defaults === undefined ? <span className="exec-required"> *</span> : null}
        <span className="muted small"> {type}</span>
      </span>
      {control}
      {input.description ? <span className="muted small">{input.description}</span> : null}
      {error ? <p className="field-error">{error}</p> : null}
    </label>
  );
}

/** The problems of a `SLU_INPUT_INVALID` answer, by input id. */
function inputProblems(error: unknown): Record<string, string> {
  const problems: Record<string, string> = {};
  if (!(error instanceof ApiError)) return problems;
  const details = error.details as { problems?: { input?: string; message?: string }[] } | undefined;
  for (const problem of details?.problems ?? []) if (problem.input) problems[problem.input] = problem.message ?? 'invalid';
  return problems;
}

/** Resume a PAUSED execution: a form built from the paused Pause task's `onResume` inputs. */
function ResumeDialog({ execution, onClose, onResumed }: { execution: Execution; onClose: () => void; onResumed: () => void }) {
  const run = pausedRun(execution.taskRunList ?? []);
  const flow = useQuery({
    queryKey: ['flow', execution.namespace, execution.flowId, execution.flowRevision],
    queryFn: () => api<Flow>(`/flows/${seg(execution.namespace)}/${seg(execution.flowId)}${query({ revision: execution.flowRevision })}`),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const inputs = run ? onResumeInputs(flow.data, run.taskId) : [];
  const resume = useMutation({
    mutationFn: (form: FormData) => api<void>(path(execution, 'resume'), { method: 'POST', body: form }),
    onSuccess: () => {
      onResumed();
      onClose();
    },
  });
  const problems = inputProblems(resume.error);
  return (
    <Dialog open title="Resume this execution" onClose={onClose} testId="resume-dialog">
      {flow.isPending ? (
        <Spinner label="Reading the paused task…" />
      ) : (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            const source = new FormData(event.currentTarget);
            // Only what was filled in: an empty field leaves the input to its default.
            const form = new FormData();
            for (const [key, value] of source.entries()) {
              if (typeof value === 'string' ? value === '' : value.size === 0 && value.name === '') continue;
              form.append(key, value);
            }
            resume.mutate(form);
          }}
        >
          <div className="exec-dialog-body">
            {flow.error ? <ErrorMessage error={flow.error} title="The flow revision could not be read: resuming without its inputs" /> : null}
            {run ? (
              <p>
                Task <code>{runLabel(run)}</code> is paused.{' '}
                {inputs.length > 0 ? 'It asks for these inputs:' : 'It takes no input: resuming lets the execution go on.'}
              </p>
            ) : (
              <p>The execution is paused. Resuming lets it go on.</p>
            )}
            {inputs.map((input) => (
              <InputField key={input.id} input={input} error={problems[input.id]} />
            ))}
          </div>
          <ErrorMessage error={resume.error} title="The execution could not be resumed" />
          <div className="exec-dialog-actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={resume.isPending} autoFocus={inputs.length === 0} data-testid="resume-submit">
              {resume.isPending ? 'Resuming…' : 'Resume'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
