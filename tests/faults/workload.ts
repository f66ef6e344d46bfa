/**
 * One fault case, end to end: a fresh cluster (harness.ts), a one-task PROCESS flow whose shell task records its
 * start, a tick every second and its end in a ledger (ledger.ts), N executions submitted over the REST API, the
 * fault injected while they are in flight, a bounded wait for all of them to end, then the checks:
 *
 * 1. every execution ends SUCCESS (and its task wrote its `done` line);
 * 2. each attempt (execution, task run, attempt) started once, and never ran twice at the same time: a second run of
 *    an attempt is allowed only to replace a run that died unfinished (its worker was killed), never one that had
 *    completed, and no two runs of a task run may overlap in time;
 * 3. the histories are complete: the execution's state history holds CREATED → RUNNING → SUCCESS, its task run's
 *    RUNNING → SUCCESS (GET /api/v1/executions/{id});
 * 4. no process is left over: none right after a worker is killed under that worker's work dir (its task commands
 *    must die with it), and none at all once the suite has stopped everything (command line or working directory
 *    under the cluster's root, which holds the ledger).
 *
 * The figures (how many ended SUCCESS, stuck, duplicate starts, overlaps, recovery time) are returned for printing
 * and for `.test-results/faults/figures.json`.
 */
import { readFile } from 'node:fs/promises';
import { Cluster, processesLeft, sleep } from './harness.js';
import { analyseLedger } from './ledger.js';

/** When the fault starts, after the first submission (the issue's runs: about 4 s). */
export const FAULT_AT_MS = 4000;
/** How long a fault lasts by default (a process replaced, a service back). */
export const FAULT_LENGTH_MS = 5000;
/** After the fault is lifted, how long every execution gets to end. */
export const WAIT_AFTER_FAULT_MS = 180_000;
/** Give up earlier when nothing moved (no execution ended, no ledger line) for this long after the fault. */
export const STALL_MS = 60_000;
/**
 * After a worker's SIGKILL, its task processes must be gone before its job can be delivered again: within the queue
 * lock the suite runs with (5 s). Not a speed bound: a process alive past it could overlap the next delivery.
 */
export const ORPHAN_DEADLINE_MS = 5000;

const TERMINAL = new Set(['SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED', 'RETRIED']);

export interface FaultContext {
  readonly cluster: Cluster;
  /** Epoch ms of the first submission. */
  readonly t0: number;
  /** Record a note for the report (what the fault did, when). */
  note(text: string): void;
  /** Record processes found alive that should have died with a killed process. */
  orphans(found: readonly string[]): void;
}

export interface FaultCase {
  readonly name: string;
  /** Folder name of the logs under `.test-results/faults/`. */
  readonly slug: string;
  readonly executions: number;
  /** How long the task sleeps (whole seconds). */
  readonly taskSeconds: number;
  /** How many such tasks the flow runs one after the other (a chain: each follows the one before); 1 by default. */
  readonly tasks?: number;
  readonly queueLockMs: number;
  /** Inject the fault; resolves when it is lifted (the replacement is ready, the service is back). */
  inject(context: FaultContext): Promise<void>;
}

export interface FaultFigures {
  readonly fault: string;
  readonly executions: number;
  readonly success: number;
  /** Ended, but not SUCCESS: state → count. */
  readonly otherEnds: Record<string, number>;
  /** Not ended when the wait gave up. */
  readonly stuck: number;
  readonly stuckStates: Record<string, number>;
  /** SUCCESS executions whose task wrote no `done` line. */
  readonly successWithoutDone: number;
  readonly runs: number;
  readonly duplicateStarts: number;
  readonly interruptedRuns: number;
  readonly overlaps: number;
  readonly rerunsAfterCompletion: number;
  /** Seconds from a run's last ledger line to the start of the next run of its task run (min and max), if any. */
  readonly rerunGapS?: readonly [number, number];
  readonly incompleteHistories: number;
  readonly orphansAfterKill: number;
  readonly leftoverProcesses: number;
  /** Seconds from the first submission. */
  readonly faultStartS: number;
  readonly faultEndS: number;
  /** Seconds from the fault's end to the last execution's end (undefined when some never ended). */
  readonly recoveredAfterS?: number;
  /** Wall time of the whole case, cluster start and stop included. */
  readonly wallS: number;
  readonly notes: readonly string[];
  /** Everything that breaks an assertion, one line each; empty when the case passed. */
  readonly problems: readonly string[];
}

interface ExecutionJson {
  id: string;
  state: { current: string; histories?: { state: string; date: string }[] };
  taskRunList?: { id: string; taskId: string; state: { current: string; histories?: { state: string }[] } }[];
}

/** The flow: `tasks` shell tasks on the PROCESS runner, one after the other, each recording its run in the ledger. */
export function ledgerFlow(ledger: string, seconds: number, tasks = 1): string {
  const line = `line() { echo "$1 {{ execution.id }} {{ taskrun.id }} {{ taskrun.attemptsCount }} $(date +%s%3N) $run" >> '${ledger}'; }`;
  const task = (id: string): string[] => [
    `  - id: ${id}`,
    '    type: io.kestra.plugin.scripts.shell.Commands',
    '    taskRunner:',
    '      type: io.kestra.plugin.core.runner.Process',
    '    commands:',
    '      - |',
    '        run="$$-$(date +%s%N)"',
    `        ${line}`,
    '        line start',
    '        i=0',
    `        while [ $i -lt ${seconds} ]; do sleep 1; i=$((i + 1)); line tick; done`,
    '        line done',
  ];
  return ['id: ledger', 'namespace: faults', 'tasks:', ...Array.from({ length: tasks }, (_, i) => task(i === 0 ? 'work' : `work${i + 1}`)).flat(), ''].join('\n');
}

async function api(cluster: Cluster, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${cluster.apiUrl}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
}

async function deploy(cluster: Cluster, yaml: string): Promise<void> {
  const response = await api(cluster, '/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: yaml });
  if (!response.ok) throw new Error(`deploying the flow: ${response.status} ${await response.text()}`);
}

async function submit(cluster: Cluster): Promise<string> {
  const response = await api(cluster, '/api/v1/executions/faults/ledger', { method: 'POST', body: new FormData() });
  const text = await response.text();
  if (!response.ok) throw new Error(`submitting an execution: ${response.status} ${text}`);
  return (JSON.parse(text) as ExecutionJson).id;
}

/** Current states of the suite's executions, or undefined while the API cannot answer (a fault may be on). */
async function states(cluster: Cluster): Promise<Map<string, string> | undefined> {
  try {
    const response = await api(cluster, '/api/v1/executions/search?namespace=faults&size=500');
    if (!response.ok) return undefined;
    const body = (await response.json()) as { results: ExecutionJson[] };
    return new Map(body.results.map((e) => [e.id, e.state.current]));
  } catch {
    return undefined;
  }
}

/** GET /api/v1/executions/{id}, retried until `deadline` (epoch ms); undefined when it never answered. */
async function getExecution(cluster: Cluster, id: string, deadline: number): Promise<ExecutionJson | undefined> {
  for (let attempt = 0; attempt < 5 && Date.now() < deadline; attempt++) {
    try {
      const response = await api(cluster, `/api/v1/executions/${id}`);
      if (response.ok) return (await response.json()) as ExecutionJson;
    } catch {
      // Retried below.
    }
    await sleep(500);
  }
  return undefined;
}

/** Whether `wanted` appears in `states` in this order (other states may come between). */
function inOrder(states: readonly string[], wanted: readonly string[]): boolean {
  let next = 0;
  for (const state of states) if (state === wanted[next]) next++;
  return next === wanted.length;
}

const count = (values: Iterable<string>): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
};

async function ledgerLines(path: string): Promise<number> {
  try {
    return (await readFile(path, 'utf8')).split('\n').length;
  } catch {
    return 0;
  }
}

/** Run one fault case on a fresh cluster; never throws for a product failure (the problems say it). */
export async function runFault(fault: FaultCase): Promise<FaultFigures> {
  const began = Date.now();
  const notes: string[] = [];
  const problems: string[] = [];
  const orphans: string[] = [];
  const cluster = await Cluster.create({ name: fault.slug, queueLockMs: fault.queueLockMs, workerConcurrency: 4 });
  const tasks = fault.tasks ?? 1;
  const ids: string[] = [];
  let t0 = Date.now();
  let faultStart = t0;
  let faultEnd = t0;
  let final = new Map<string, string>();
  let lastEnd: number | undefined;
  let leftovers: string[];
  let histories: { id: string; problem: string }[] = [];
  try {
    await cluster.startAll(2);
    await deploy(cluster, ledgerFlow(cluster.ledger, fault.taskSeconds, tasks));
    t0 = Date.now();
    for (let i = 0; i < fault.executions; i++) ids.push(await submit(cluster));
    notes.push(`${ids.length} executions submitted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // The fault, while they are in flight; the executions' ends are watched meanwhile.
    const endedAt = new Map<string, number>();
    let lastProgress = Date.now();
    let lines = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const now = await states(cluster);
        for (const [id, state] of now ?? []) {
          if (TERMINAL.has(state) && !endedAt.has(id)) {
            endedAt.set(id, Date.now());
            lastProgress = Date.now();
          }
          final.set(id, state);
        }
        const seen = await ledgerLines(cluster.ledger);
        if (seen !== lines) {
          lines = seen;
          lastProgress = Date.now();
        }
        if (ids.every((id) => endedAt.has(id))) return;
        await sleep(250);
      }
    })();
    await sleep(t0 + FAULT_AT_MS - Date.now());
    faultStart = Date.now();
    try {
      await fault.inject({ cluster, t0, note: (text) => notes.push(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${text}`), orphans: (found) => orphans.push(...found) });
    } catch (error) {
      problems.push(`the fault could not be injected or lifted: ${error instanceof Error ? error.message : String(error)}`);
    }
    faultEnd = Date.now();

    // Bounded wait: all ended, or 180 s after the fault, or nothing moved for a minute.
    const deadline = faultEnd + WAIT_AFTER_FAULT_MS;
    while (!ids.every((id) => endedAt.has(id)) && Date.now() < deadline && Date.now() - Math.max(lastProgress, faultEnd) < STALL_MS) await sleep(250);
    watching = false;
    await watch;
    final = new Map([...final].filter(([id]) => ids.includes(id)));
    if (ids.every((id) => endedAt.has(id))) lastEnd = Math.max(...ids.map((id) => endedAt.get(id)!));
    else notes.push(`gave up waiting ${((Date.now() - faultEnd) / 1000).toFixed(0)} s after the fault (${Date.now() - lastProgress >= STALL_MS ? `nothing moved for ${STALL_MS / 1000} s` : 'time bound'})`);

    // Histories, from each execution as the API returns it.
    histories = [];
    const readUntil = Date.now() + 60_000;
    for (const id of ids) {
      const execution = await getExecution(cluster, id, readUntil);
      if (!execution) {
        histories.push({ id, problem: 'GET /api/v1/executions/{id} failed' });
        continue;
      }
      final.set(id, execution.state.current);
      if (execution.state.current !== 'SUCCESS') continue;
      const executionStates = (execution.state.histories ?? []).map((h) => h.state);
      if (!inOrder(executionStates, ['CREATED', 'RUNNING', 'SUCCESS'])) histories.push({ id, problem: `execution history ${executionStates.join(' → ')}` });
      const taskRuns = execution.taskRunList ?? [];
      if (taskRuns.length !== tasks) histories.push({ id, problem: `${taskRuns.length} task runs, not ${tasks}` });
      for (const taskRun of taskRuns) {
        const runStates = (taskRun.state.histories ?? []).map((h) => h.state);
        if (!inOrder(runStates, ['RUNNING', 'SUCCESS'])) histories.push({ id, problem: `task run ${taskRun.id} history ${runStates.join(' → ')}` });
      }
    }
  } catch (error) {
    problems.push(`the case could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    notes.push(...(await cluster.stopAll()));
    // Let the kernel deliver what the stops sent before looking.
    await sleep(1000);
    leftovers = await processesLeft([cluster.root, cluster.ledger]);
  }
  const ledgerText = await readFile(cluster.ledger, 'utf8').catch(() => '');
  await cluster.remove();

  const ledger = analyseLedger(ledgerText);
  const success = ids.filter((id) => final.get(id) === 'SUCCESS');
  const ended = ids.filter((id) => TERMINAL.has(final.get(id) ?? ''));
  const stuck = ids.filter((id) => !TERMINAL.has(final.get(id) ?? ''));
  const otherEnds = count(ended.filter((id) => final.get(id) !== 'SUCCESS').map((id) => final.get(id)!));
  // Every task of the execution wrote its done line (in some run of its task run).
  const successWithoutDone = success.filter((id) => (ledger.completedByExecution.get(id) ?? 0) < tasks);

  if (success.length !== ids.length || ids.length !== fault.executions) {
    problems.push(`${success.length} of ${fault.executions} executions ended SUCCESS; ${JSON.stringify(otherEnds)} ended otherwise; ${stuck.length} stuck ${JSON.stringify(count(stuck.map((id) => final.get(id) ?? 'unknown')))}`);
  }
  if (successWithoutDone.length > 0) problems.push(`${successWithoutDone.length} SUCCESS executions whose task never wrote its done line: ${successWithoutDone.slice(0, 3).join(', ')}`);
  if (ledger.malformed.length > 0) problems.push(`${ledger.malformed.length} malformed ledger lines: ${ledger.malformed.slice(0, 3).join(' | ')}`);
  if (ledger.overlaps.length > 0) problems.push(`${ledger.overlaps.length} overlapping runs of one task run: ${ledger.overlaps.slice(0, 3).join('; ')}`);
  if (ledger.rerunsAfterCompletion.length > 0) problems.push(`${ledger.rerunsAfterCompletion.length} attempts started again after they had completed: ${ledger.rerunsAfterCompletion.slice(0, 3).join('; ')}`);
  if (histories.length > 0) problems.push(`${histories.length} incomplete histories: ${histories.slice(0, 3).map((h) => `${h.id}: ${h.problem}`).join('; ')}`);
  if (orphans.length > 0) problems.push(`${orphans.length} task processes of a killed worker still alive ${ORPHAN_DEADLINE_MS} ms after its SIGKILL: ${orphans.slice(0, 3).join('; ')}`);
  if (leftovers.length > 0) problems.push(`${leftovers.length} processes left after the suite stopped everything: ${leftovers.slice(0, 3).join('; ')}`);

  return {
    fault: fault.name,
    executions: fault.executions,
    success: success.length,
    otherEnds,
    stuck: stuck.length,
    stuckStates: count(stuck.map((id) => final.get(id) ?? 'unknown')),
    successWithoutDone: successWithoutDone.length,
    runs: ledger.runs.length,
    duplicateStarts: ledger.duplicateStarts,
    interruptedRuns: ledger.interrupted,
    overlaps: ledger.overlaps.length,
    rerunsAfterCompletion: ledger.rerunsAfterCompletion.length,
    ...(ledger.rerunGapsMs.length === 0 ? {} : { rerunGapS: [round(Math.min(...ledger.rerunGapsMs) / 1000), round(Math.max(...ledger.rerunGapsMs) / 1000)] as const }),
    incompleteHistories: histories.length,
    orphansAfterKill: orphans.length,
    leftoverProcesses: leftovers.length,
    faultStartS: round((faultStart - t0) / 1000),
    faultEndS: round((faultEnd - t0) / 1000),
    ...(lastEnd === undefined ? {} : { recoveredAfterS: round(Math.max(0, lastEnd - faultEnd) / 1000) }),
    wallS: round((Date.now() - began) / 1000),
    notes,
    problems,
  };
}

const round = (value: number): number => Math.round(value * 10) / 10;

/** One line of figures, for the console and the docs. */
export function describeFigures(f: FaultFigures): string {
  const others = Object.entries(f.otherEnds).map(([state, n]) => `${n} ${state}`);
  const stuck = f.stuck > 0 ? `${f.stuck} stuck (${Object.entries(f.stuckStates).map(([state, n]) => `${n} ${state}`).join(', ')})` : '0 stuck';
  return [
    `${f.fault}: ${f.success}/${f.executions} SUCCESS${others.length ? `, ${others.join(', ')}` : ''}, ${stuck}`,
    `${f.runs} runs, ${f.duplicateStarts} duplicate starts (${f.interruptedRuns} runs interrupted, ${f.overlaps} overlapping, ${f.rerunsAfterCompletion} after completion${f.rerunGapS ? `; run again ${f.rerunGapS[0]}–${f.rerunGapS[1]} s after the previous run's last line` : ''})`,
    `${f.incompleteHistories} incomplete histories, ${f.orphansAfterKill} orphans after kill, ${f.leftoverProcesses} leftover processes`,
    `fault ${f.faultStartS}–${f.faultEndS} s, ${f.recoveredAfterS === undefined ? 'never all ended' : `all ended ${f.recoveredAfterS} s after the fault`}, case ${f.wallS} s`,
  ].join('; ');
}
