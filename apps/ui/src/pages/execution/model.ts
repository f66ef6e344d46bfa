/**
 * Pure helpers of the execution page: the task-run tree as Gantt rows, the time segments of a run, the time axis,
 * log levels, and lookups in the flow definition. No React here.
 */
import { isTerminal } from '../../types';
import type { Execution, Flow, FlowInput, LogLine, State, TaskRun } from '../../types';

const time = (date: string | undefined): number | undefined => {
  if (!date) return undefined;
  const value = Date.parse(date);
  return Number.isNaN(value) ? undefined : value;
};

/** One row of the Gantt chart: a task run, its depth in the tree, whether it has children. */
export interface GanttRow {
  readonly run: TaskRun;
  readonly depth: number;
  readonly childCount: number;
}

/** Children of each task run (by `parentTaskRunId`), in the execution's order; runs whose parent is unknown are roots. */
export function childrenOf(runs: readonly TaskRun[]): { roots: TaskRun[]; children: Map<string, TaskRun[]> } {
  const ids = new Set(runs.map((run) => run.id));
  const roots: TaskRun[] = [];
  const children = new Map<string, TaskRun[]>();
  for (const run of runs) {
    const parent = run.parentTaskRunId;
    if (parent && parent !== run.id && ids.has(parent)) {
      const list = children.get(parent);
      if (list) list.push(run);
      else children.set(parent, [run]);
    } else roots.push(run);
  }
  return { roots, children };
}

/** The task runs in tree order (depth first, each parent before its children), skipping collapsed subtrees. */
export function ganttRows(runs: readonly TaskRun[], collapsed: ReadonlySet<string>): GanttRow[] {
  const { roots, children } = childrenOf(runs);
  const rows: GanttRow[] = [];
  const seen = new Set<string>();
  // An explicit stack: 10,000 nested runs must not overflow the call stack.
  const stack: { run: TaskRun; depth: number }[] = roots.map((run) => ({ run, depth: 0 })).reverse();
  while (stack.length > 0) {
    const { run, depth } = stack.pop()!;
    if (seen.has(run.id)) continue;
    seen.add(run.id);
    const kids = children.get(run.id) ?? [];
    rows.push({ run, depth, childCount: kids.length });
    if (collapsed.has(run.id)) continue;
    for (let i = kids.length - 1; i >= 0; i--) stack.push({ run: kids[i]!, depth: depth + 1 });
  }
  return rows;
}

/** A stretch of time in one state. */
export interface Segment {
  readonly start: number;
  readonly end: number;
  readonly state: string;
  /** 1-based attempt number, for an attempt's segment. */
  readonly attempt?: number;
  /** Still going: its end is `now`. */
  readonly running: boolean;
}

/** When a state began and ended (`now` while it is not terminal). */
export function stateSpan(state: State | undefined, now: number): { start: number; end: number; running: boolean } | undefined {
  if (!state) return undefined;
  const histories = state.histories ?? [];
  const start = time(histories[0]?.date) ?? time(state.startDate);
  if (start === undefined) return undefined;
  const running = !isTerminal(state.current);
  const end = running ? Math.max(now, start) : (time(state.endDate) ?? time(histories[histories.length - 1]?.date) ?? start);
  return { start, end: Math.max(end, start), running };
}

/**
 * What a Gantt row draws: the run's whole span (from its creation, faint) and its attempts (solid, one segment each).
 * A run without an attempt that ran (a flowable task: its attempt only records the end) draws its span solid from
 * the time it started running.
 */
export function runSegments(run: TaskRun, now: number): { span: Segment | undefined; attempts: Segment[] } {
  const whole = stateSpan(run.state, now);
  const span = whole ? { ...whole, state: run.state.current } : undefined;
  const attempts: Segment[] = [];
  (run.attempts ?? []).forEach((attempt, index) => {
    const histories = attempt.state.histories ?? [];
    if (!histories.some((h) => h.state === 'RUNNING')) return;
    const startedAt = time(histories.find((h) => h.state === 'RUNNING')?.date);
    const s = stateSpan(attempt.state, span && !span.running ? span.end : now);
    if (!s) return;
    const start = startedAt ?? s.start;
    attempts.push({ start, end: Math.max(s.end, start), state: attempt.state.current, attempt: index + 1, running: s.running && (span?.running ?? true) });
  });
  if (attempts.length === 0 && span) {
    const startedAt = time(run.state.histories?.find((h) => h.state === 'RUNNING')?.date) ?? span.start;
    attempts.push({ ...span, start: Math.min(Math.max(startedAt, span.start), span.end) });
  }
  return { span, attempts };
}

/** The chart's time range: the execution's span, widened to every run's. */
export function timeRange(execution: Execution, now: number): { start: number; end: number } {
  const own = stateSpan(execution.state, now);
  let start = own?.start ?? Number.POSITIVE_INFINITY;
  let end = own?.end ?? Number.NEGATIVE_INFINITY;
  for (const run of execution.taskRunList ?? []) {
    const s = stateSpan(run.state, now);
    if (!s) continue;
    if (s.start < start) start = s.start;
    if (s.end > end) end = s.end;
  }
  if (!Number.isFinite(start)) start = now;
  if (!Number.isFinite(end) || end <= start) end = start + 1000;
  return { start, end };
}

const STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
  7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/** Axis ticks from 0 to `span` ms, about `count` of them, at a round step. */
export function ticks(span: number, count = 6): number[] {
  const raw = span / Math.max(1, count);
  const step = STEPS.find((s) => s >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
  const result: number[] = [];
  for (let t = 0; t <= span + 1e-9 && result.length < 100; t += step) result.push(t);
  return result;
}

/** A tick's label: `0`, `500 ms`, `2 s`, `1 min 30 s`, `2 h`. */
export function tickLabel(ms: number): string {
  if (ms === 0) return '0';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) {
    const m = Math.floor(ms / 60_000);
    const s = Math.round((ms % 60_000) / 1000);
    return s ? `${m} min ${s} s` : `${m} min`;
  }
  const h = Math.floor(ms / 3_600_000);
  const m = Math.round((ms % 3_600_000) / 60_000);
  return m ? `${h} h ${m} min` : `${h} h`;
}

export const LOG_LEVELS: readonly LogLine['level'][] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

export function levelRank(level: string): number {
  const index = LOG_LEVELS.indexOf(level as LogLine['level']);
  return index < 0 ? 2 : index;
}

/** The latest task run of each task id (the last one in the execution's list), as `taskId → state`. */
export function latestStates(execution: Execution | undefined): Record<string, string> {
  const states: Record<string, string> = {};
  for (const run of execution?.taskRunList ?? []) states[run.taskId] = run.state.current;
  return states;
}

/** Kestra's rule for the run a resume acts on: the first PAUSED run with no PAUSED run below it. */
export function pausedRun(runs: readonly TaskRun[]): TaskRun | undefined {
  const paused = runs.filter((run) => run.state.current === 'PAUSED');
  if (paused.length <= 1) return paused[0];
  const byId = new Map(runs.map((run) => [run.id, run]));
  const above = new Set<string>();
  for (const run of paused) {
    const seen = new Set<string>([run.id]);
    for (let parent = run.parentTaskRunId; parent && !seen.has(parent); parent = byId.get(parent)?.parentTaskRunId) {
      seen.add(parent);
      above.add(parent);
    }
  }
  return paused.find((run) => !above.has(run.id));
}

/** The task `taskId` anywhere in the flow (tasks, errors, finally and every nested list), inputs left out. */
export function findTask(flow: Flow | undefined, taskId: string): Record<string, unknown> | undefined {
  if (!flow) return undefined;
  const stack: { node: unknown; depth: number }[] = [{ node: [flow.tasks, flow.errors, flow.finally, flow.afterExecution], depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > 200 || node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ node: node[i], depth: depth + 1 });
      continue;
    }
    const object = node as Record<string, unknown>;
    if (object.id === taskId && typeof object.type === 'string') return object;
    for (const [key, value] of Object.entries(object).reverse()) {
      if (key === 'inputs' || key === 'onResume') continue;
      stack.push({ node: value, depth: depth + 1 });
    }
  }
  return undefined;
}

/** The `onResume` inputs the PAUSED run's task declares (none for a task that is not a Pause, or declares none). */
export function onResumeInputs(flow: Flow | undefined, taskId: string): FlowInput[] {
  const task = findTask(flow, taskId);
  return Array.isArray(task?.onResume) ? (task.onResume as FlowInput[]) : [];
}

/** `kestra:///...`: a file in the internal storage. */
export const isStorageUri = (value: unknown): value is string => typeof value === 'string' && value.startsWith('kestra://');

/** The file name at the end of a storage URI. */
export function fileName(uri: string): string {
  const last = uri.split('/').filter(Boolean).pop() ?? 'file';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** A task run's label: its task id, with its loop value and iteration when it has them. */
export function runLabel(run: TaskRun): string {
  const parts = [run.taskId];
  if (run.value !== undefined && run.value !== null && run.value !== '') parts.push(`[${run.value}]`);
  else if (typeof run.iteration === 'number') parts.push(`#${run.iteration}`);
  return parts.join(' ');
}
