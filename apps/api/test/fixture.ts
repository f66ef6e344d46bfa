/**
 * The API tests' fixture: `startApi` from `@sluice/api/testing` (a real API over a fresh Postgres database), flow
 * helpers, and executions seeded straight into the database.
 */
import { expect } from 'vitest';
import type { ApiFixture } from '../src/testing/index.js';

export { startApi } from '../src/testing/index.js';
export type { ApiFixture, ApiFixtureOptions } from '../src/testing/index.js';

/** A valid one-task flow. */
export function flowYaml(namespace: string, id: string, message = 'hello'): string {
  return `id: ${id}\nnamespace: ${namespace}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: ${message}\n`;
}

export const YAML = { 'content-type': 'application/x-yaml' };

/** Flow `legacy` of `namespace`: a Pause with Kestra's old type name and the deprecated `tasks`, run once resumed. */
export function legacyPauseFlow(namespace: string): string {
  return `id: legacy
namespace: ${namespace}
tasks:
  - id: wait
    type: io.kestra.core.tasks.flows.Pause
    tasks:
      - id: then
        type: io.kestra.plugin.core.log.Log
        message: resumed
`;
}

/** Save these flows through the API; each must be accepted. */
export async function createFlows(a: ApiFixture, sources: readonly string[]): Promise<void> {
  for (const source of sources) {
    const response = await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: source });
    expect(response.status, await response.clone().text()).toBe(200);
  }
}

/** A task run {@link seedExecution} writes. */
export interface SeededRun {
  /** The run's id is `<execution id>-<id>`. */
  readonly id: string;
  readonly taskId: string;
  /** The `id` of its parent run. */
  readonly parent?: string;
  readonly state: string;
  /** Its state history; the last attempt gets the same one unless `attempts` says otherwise. */
  readonly history: readonly string[];
  readonly attempts?: unknown[];
  readonly outputs?: unknown;
  readonly workerId?: string;
}

/** `ms` after the fixed date the seeded states are dated from. */
const seededAt = (ms: number): string => new Date(Date.UTC(2026, 0, 2, 3, 4, 5) + ms).toISOString();

/** A state with this history, one second apart from a fixed date. */
export function seededState(history: readonly string[]): { current: string; histories: { state: string; date: string }[] } {
  return { current: history.at(-1)!, histories: history.map((state, i) => ({ state, date: seededAt(i * 1000) })) };
}

/**
 * A new execution of `namespace`/`flowId`, then moved to `state` with these task runs (in this order), written
 * straight into Postgres as the scheduler would have left it: for tests that run no scheduler. Returns its id.
 */
export async function seedExecution(a: ApiFixture, namespace: string, flowId: string, state: string, runs: readonly SeededRun[]): Promise<string> {
  const created = await a.fetch(`/api/v1/executions/${namespace}/${flowId}`, { method: 'POST' });
  expect(created.status).toBe(200);
  const { id } = (await created.json()) as { id: string };
  const history = JSON.stringify(['RUNNING', state].map((s, i) => ({ state: s, date: seededAt(i * 1000) })));
  await a.db.prisma.$executeRaw`UPDATE executions SET state = ${state}, state_history = state_history || ${history}::jsonb WHERE id = ${id}`;
  let order = 0;
  for (const run of runs) {
    const runId = `${id}-${run.id}`;
    const attempts = run.attempts ?? [{ state: seededState(run.history), ...(run.workerId ? { workerId: run.workerId } : {}) }];
    await a.db.prisma.$executeRaw`
      INSERT INTO task_runs (id, execution_id, task_id, parent_task_run_id, state, state_history, attempts, outputs, worker_id, start_date, created_at, updated_at)
      VALUES (${runId}, ${id}, ${run.taskId}, ${run.parent ? `${id}-${run.parent}` : null}, ${run.state}, ${JSON.stringify(seededState(run.history).histories)}::jsonb,
              ${JSON.stringify(attempts)}::jsonb, ${run.outputs === undefined ? null : JSON.stringify(run.outputs)}::jsonb, ${run.workerId ?? null},
              ${new Date(seededAt(0))}, ${new Date(Date.parse(seededAt(0)) + order)}, now())`;
    order += 1;
  }
  return id;
}
