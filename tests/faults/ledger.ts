/**
 * The ledger the fault suite's task writes, and what it proves.
 *
 * Every run of the task (one OS process: the task's shell) appends lines of the form
 *
 *     <kind> <execution id> <task run id> <attempt> <epoch ms> <run id>
 *
 * `kind` is `start` when the run begins, `tick` after every second of its sleep and `done` at its end. `attempt` is
 * the task run's `taskrun.attemptsCount` (0 for the first attempt; a flow-level retry would make it 1). `run id` is
 * `<shell pid>-<epoch ns>`, unique per run, so the lines of two runs of the same attempt are told apart.
 *
 * A run that has a `done` line completed; one without was interrupted (killed) some time after its last line. Its
 * end is taken as its last line plus one tick interval, the latest it can have been alive without ticking.
 */

/** One run of the task, from its ledger lines. */
export interface LedgerRun {
  readonly executionId: string;
  readonly taskRunId: string;
  readonly attempt: string;
  readonly runId: string;
  /** Epoch ms of its `start` line. */
  readonly start: number;
  /** Epoch ms of its last line (`start`, `tick` or `done`). */
  readonly last: number;
  /** Epoch ms of its `done` line, when it completed. */
  readonly done?: number;
}

/** What the ledger says about the runs. */
export interface LedgerAnalysis {
  readonly runs: readonly LedgerRun[];
  /** `start` lines beyond the first of each attempt (execution, task run, attempt). */
  readonly duplicateStarts: number;
  /** Pairs of runs of the same task run that were alive at the same time (a task that ran twice at once). */
  readonly overlaps: readonly string[];
  /** Runs started for an attempt after one of its runs had completed (the attempt's work done twice, one after the other). */
  readonly rerunsAfterCompletion: readonly string[];
  /** Runs that never wrote `done` (killed). Allowed when a later run of the same attempt completed. */
  readonly interrupted: number;
  /** For each run that followed another run of its task run: ms from the earlier run's last line to its start. */
  readonly rerunGapsMs: readonly number[];
  /** Lines that do not parse. */
  readonly malformed: readonly string[];
  /** Task runs whose attempt has a completed run, by execution id. */
  readonly completedByExecution: ReadonlyMap<string, number>;
}

/** How long a run may have lived after its last line: the task ticks every second. */
export const TICK_MS = 1000;

/** The end of a run: its `done` line, or for an interrupted one the latest it can have lived. */
export function runEnd(run: LedgerRun): number {
  return run.done ?? run.last + TICK_MS;
}

function describeRun(run: LedgerRun): string {
  const end = run.done === undefined ? `interrupted after ${run.last}` : `done ${run.done}`;
  return `${run.executionId}/${run.taskRunId} attempt ${run.attempt} run ${run.runId} (start ${run.start}, ${end})`;
}

/** Parse and check the ledger's text. */
export function analyseLedger(text: string): LedgerAnalysis {
  const byRun = new Map<string, { executionId: string; taskRunId: string; attempt: string; runId: string; start?: number; last: number; done?: number }>();
  const malformed: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    const [kind, executionId, taskRunId, attempt, ms, runId] = fields;
    const at = Number(ms);
    if (fields.length !== 6 || !kind || !executionId || !taskRunId || !attempt || !runId || !['start', 'tick', 'done'].includes(kind) || !Number.isFinite(at)) {
      malformed.push(line);
      continue;
    }
    const key = `${executionId} ${taskRunId} ${attempt} ${runId}`;
    const run = byRun.get(key) ?? { executionId, taskRunId, attempt, runId, last: at };
    run.last = Math.max(run.last, at);
    if (kind === 'start') run.start = at;
    if (kind === 'done') run.done = at;
    byRun.set(key, run);
  }
  const runs: LedgerRun[] = [];
  for (const run of byRun.values()) {
    if (run.start === undefined) {
      malformed.push(`run ${run.runId} of ${run.executionId}/${run.taskRunId} has no start line`);
      continue;
    }
    runs.push({ executionId: run.executionId, taskRunId: run.taskRunId, attempt: run.attempt, runId: run.runId, start: run.start, last: run.last, ...(run.done === undefined ? {} : { done: run.done }) });
  }
  runs.sort((a, b) => a.start - b.start);

  const byTaskRun = new Map<string, LedgerRun[]>();
  for (const run of runs) {
    const key = `${run.executionId} ${run.taskRunId}`;
    byTaskRun.set(key, [...(byTaskRun.get(key) ?? []), run]);
  }
  let duplicateStarts = 0;
  let interrupted = 0;
  const overlaps: string[] = [];
  const rerunsAfterCompletion: string[] = [];
  const completedByExecution = new Map<string, number>();
  const rerunGapsMs: number[] = [];
  for (const list of byTaskRun.values()) {
    for (let i = 0; i < list.length; i++) {
      const run = list[i]!;
      if (run.done === undefined) interrupted++;
      if (i > 0) rerunGapsMs.push(run.start - list[i - 1]!.last);
      for (let j = 0; j < i; j++) {
        const earlier = list[j]!;
        if (run.start < runEnd(earlier)) overlaps.push(`${describeRun(earlier)} overlaps ${describeRun(run)} by ${runEnd(earlier) - run.start} ms`);
        if (earlier.attempt === run.attempt && earlier.done !== undefined && run.start >= earlier.done) rerunsAfterCompletion.push(`${describeRun(run)} started after ${describeRun(earlier)} had completed`);
      }
    }
    const attempts = new Map<string, number>();
    for (const run of list) attempts.set(run.attempt, (attempts.get(run.attempt) ?? 0) + 1);
    for (const count of attempts.values()) duplicateStarts += count - 1;
    const first = list[0]!;
    if (list.some((run) => run.done !== undefined)) completedByExecution.set(first.executionId, (completedByExecution.get(first.executionId) ?? 0) + 1);
  }
  return { runs, duplicateStarts, overlaps, rerunsAfterCompletion, interrupted, rerunGapsMs, malformed, completedByExecution };
}
