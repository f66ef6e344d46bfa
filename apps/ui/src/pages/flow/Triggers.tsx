/**
 * The triggers tab: the triggers the flow declares, with what the scheduler knows of each (`GET /triggers/search`:
 * next and last fire dates, disabled), and a button to disable or enable each (`PUT /triggers`).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, query } from '../../api';
import { EmptyState, ErrorMessage } from '../../components/common';
import { formatDate } from '../../format';
import { Link, seg } from '../../router';
import type { Flow, FlowTask, Paged } from '../../types';
import { shortType } from '../../components/topology/shortType';
import { triggersKey } from './keys';

interface TriggerContext {
  namespace: string;
  flowId: string;
  triggerId: string;
  date?: string;
  nextExecutionDate?: string;
  updatedDate?: string;
  workerId?: string;
  disabled: boolean;
}

interface TriggerResult {
  abstractTrigger: FlowTask | null;
  triggerContext: TriggerContext;
}

const SCHEDULE_SNIPPET = `triggers:
  - id: every_morning
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"        # every day at 09:00
    timezone: Europe/Paris   # optional, UTC by default`;

/** The properties worth a glance, per trigger: a Schedule's cron, a polling trigger's interval... */
function summary(trigger: FlowTask): string {
  const parts: string[] = [];
  for (const key of ['cron', 'timezone', 'interval', 'expression', 'path']) {
    const value = trigger[key];
    if (typeof value === 'string' || typeof value === 'number') parts.push(`${key}: ${value}`);
  }
  return parts.join(' · ');
}

export function Triggers({ flow }: { flow: Flow }) {
  const { namespace, id } = flow;
  const declared = flow.triggers ?? [];
  const client = useQueryClient();
  const contexts = useQuery({
    queryKey: triggersKey(namespace, id),
    queryFn: () =>
      api<Paged<TriggerResult>>(`/triggers/search${query({ 'filters[namespace][EQUALS]': namespace, 'filters[flowId][EQUALS]': id, size: 100 })}`),
    enabled: declared.length > 0,
    refetchInterval: 15_000,
  });
  const toggle = useMutation({
    mutationFn: (change: { triggerId: string; disabled: boolean }) =>
      api<TriggerContext>('/triggers', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ namespace, flowId: id, triggerId: change.triggerId, disabled: change.disabled }),
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: triggersKey(namespace, id) }),
  });

  if (declared.length === 0) {
    return (
      <div data-testid="triggers-empty">
        <EmptyState
          title="This flow has no trigger"
          action={
            <Link to={`/flows/${seg(namespace)}/${seg(id)}/editor`} className="button primary">
              Add one in the editor
            </Link>
          }
        >
          It runs only when started by hand, by the API or by another flow. To run it on a schedule, add a <code>triggers</code> list
          to its YAML, for example:
        </EmptyState>
        <pre className="trigger-snippet" data-testid="trigger-snippet">
          {SCHEDULE_SNIPPET}
        </pre>
      </div>
    );
  }

  const byId = new Map((contexts.data?.results ?? []).map((r) => [r.triggerContext.triggerId, r.triggerContext]));

  return (
    <div className="stack">
      {flow.disabled ? (
        <p className="notice">This flow is disabled: none of its triggers fires until it is enabled again in its YAML.</p>
      ) : null}
      {contexts.isError ? <ErrorMessage error={contexts.error} title="The triggers' state could not be read" /> : null}
      {toggle.isError ? <ErrorMessage error={toggle.error} title="The trigger could not be changed" /> : null}
      <table className="list" data-testid="triggers-table">
        <thead>
          <tr>
            <th>Trigger</th>
            <th>Type</th>
            <th>Settings</th>
            <th>Next run</th>
            <th>Last fired</th>
            <th>State</th>
            <th>
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {declared.map((trigger) => {
            const context = byId.get(trigger.id);
            const disabledInYaml = trigger.disabled === true;
            const disabled = disabledInYaml || context?.disabled === true;
            const busy = toggle.isPending && toggle.variables.triggerId === trigger.id;
            return (
              <tr key={trigger.id} data-testid="trigger-row" data-trigger={trigger.id} data-disabled={disabled}>
                <td className="mono">
                  <strong>{trigger.id}</strong>
                  {typeof trigger.description === 'string' ? <div className="muted small">{trigger.description}</div> : null}
                </td>
                <td title={trigger.type}>
                  <span className="mono small">{shortType(trigger.type)}</span>
                </td>
                <td className="mono small">{summary(trigger) || <span className="muted">—</span>}</td>
                <td className="nowrap">
                  {contexts.isPending ? '…' : context?.nextExecutionDate && !disabled ? formatDate(context.nextExecutionDate) : <span className="muted">—</span>}
                </td>
                <td className="nowrap">{context?.date ? formatDate(context.date) : <span className="muted">never</span>}</td>
                <td data-testid="trigger-state">
                  {disabledInYaml ? (
                    <span className="chip chip-warn" title="The YAML sets disabled: true; change the YAML to enable it">
                      disabled in YAML
                    </span>
                  ) : disabled ? (
                    <span className="chip chip-warn">disabled</span>
                  ) : (
                    <span className="chip chip-ok">enabled</span>
                  )}
                  {context?.workerId ? <div className="muted small">held by {context.workerId}</div> : null}
                </td>
                <td>
                  {disabledInYaml ? (
                    <button type="button" disabled title="Disabled in the flow's YAML: edit the YAML to enable it">
                      Enable
                    </button>
                  ) : (
                    <button
                      type="button"
                      className={disabled ? 'primary' : ''}
                      disabled={busy || flow.disabled === true}
                      onClick={() => toggle.mutate({ triggerId: trigger.id, disabled: !disabled })}
                      aria-label={`${disabled ? 'Enable' : 'Disable'} trigger ${trigger.id}`}
                      data-testid="trigger-toggle"
                    >
                      {busy ? '…' : disabled ? 'Enable' : 'Disable'}
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="muted small">
        Disabling a trigger is kept apart from the flow: its YAML does not change. A Schedule enabled again goes on from its next tick
        (the ticks missed meanwhile are not run).
      </p>
    </div>
  );
}
