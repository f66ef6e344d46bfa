/**
 * The fault suite of issue #15: for each fault, a fresh cluster of real processes (harness.ts) runs executions of a
 * task that records its runs in a ledger, the fault strikes while they are in flight, and workload.ts checks that
 * every execution ends SUCCESS, that no attempt ran twice at once or again after it completed, that the histories
 * are complete and that no process is left over.
 *
 * The cases run one after another (two cores). Each prints its figures; all of them go to
 * `.test-results/faults/figures.json`, the processes' logs and the ledger to `.test-results/faults/<case>/`.
 *
 * Run: `npx vitest run --config tests/faults/vitest.config.ts` (as root or as a user who can run Postgres' initdb;
 * needs Postgres' server binaries under /usr/lib/postgresql and redis-server, as scripts/services.sh installs).
 * - `SLUICE_FAULTS=<substring>` runs the matching cases only;
 * - `SLUICE_FAULTS_CHECKOUT=<dir>` runs the apps of another checkout (with its node_modules), e.g. a commit from
 *   before a fix, with `SLUICE_CLI_SOURCE=1` when it has no dist/: the case that catches the fix's absence fails.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FLOW_TRIGGER_CASE, flowTriggerExactlyOnce } from './flow-trigger.js';
import { processesLeft, resultsDir, sleep } from './harness.js';
import { describeFigures, FAULT_LENGTH_MS, ORPHAN_DEADLINE_MS, runFault } from './workload.js';
import type { FaultCase, FaultContext, FaultFigures } from './workload.js';

/** Short locks wherever the fault allows: a dead worker's job is delivered again after about this long. */
const LOCK_MS = 5000;

/** SIGKILL worker 1 (its task processes must die with it), and start a replacement `FAULT_LENGTH_MS` later. */
async function killWorker(context: FaultContext): Promise<void> {
  const { cluster } = context;
  const victim = cluster.workers[0];
  if (!victim) throw new Error('no worker to kill');
  const victimDir = cluster.workDirOf(victim);
  await victim.kill();
  const killedAt = Date.now();
  context.note(`${victim.name} SIGKILLed`);
  let left = await processesLeft([victimDir]);
  while (left.length > 0 && Date.now() - killedAt < ORPHAN_DEADLINE_MS) {
    await sleep(100);
    left = await processesLeft([victimDir]);
  }
  context.orphans(left);
  if (left.length === 0) context.note(`its task processes gone ${((Date.now() - killedAt) / 1000).toFixed(1)} s after`);
  await sleep(FAULT_LENGTH_MS - (Date.now() - killedAt));
  const replacement = await cluster.startWorker();
  await replacement.ready();
  context.note(`${replacement.name} ready`);
}

/** SIGKILL the scheduler, and start a new one `FAULT_LENGTH_MS` later. */
async function killScheduler({ cluster, note }: FaultContext): Promise<void> {
  await cluster.scheduler?.kill();
  note('scheduler SIGKILLed');
  await sleep(FAULT_LENGTH_MS);
  await cluster.startScheduler().ready();
  note('scheduler ready');
}

async function stopPostgres(context: FaultContext, outageMs: number): Promise<void> {
  await context.cluster.pg.stop('fast');
  context.note('Postgres stopped');
  await sleep(outageMs);
  await context.cluster.pg.start();
  context.note('Postgres started');
}

const cases: FaultCase[] = [
  {
    name: 'worker SIGKILL, 2 s tasks',
    slug: 'worker-kill-2s',
    executions: 40,
    taskSeconds: 2,
    queueLockMs: LOCK_MS,
    inject: killWorker,
  },
  {
    name: 'worker SIGKILL, 20 s tasks',
    slug: 'worker-kill-20s',
    // 16 executions of 20 s fill the 8 slots twice: enough to have tasks in flight on the killed worker.
    executions: 16,
    taskSeconds: 20,
    queueLockMs: LOCK_MS,
    inject: killWorker,
  },
  {
    // Each task follows the one before on the worker that ran it (follow-on tasks): a killed worker's chains go on
    // from its redelivered jobs, and no task of a chain runs twice at once or is skipped.
    name: 'worker SIGKILL, chains of 3 tasks of 1 s',
    slug: 'worker-kill-chain',
    executions: 24,
    taskSeconds: 1,
    tasks: 3,
    queueLockMs: LOCK_MS,
    inject: killWorker,
  },
  {
    // Workers queue the next task of each chain themselves while the scheduler is dead; the restarted scheduler
    // stores those runs from the ends (or from their own reports) and the chains end as if nothing happened.
    name: 'scheduler SIGKILL, chains of 3 tasks of 1 s',
    slug: 'scheduler-kill-chain',
    executions: 24,
    taskSeconds: 1,
    tasks: 3,
    queueLockMs: LOCK_MS,
    inject: killScheduler,
  },
  {
    name: 'scheduler SIGKILL, restarted',
    slug: 'scheduler-kill',
    executions: 40,
    taskSeconds: 2,
    queueLockMs: LOCK_MS,
    inject: killScheduler,
  },
  {
    name: 'API SIGKILL, restarted',
    slug: 'api-kill',
    executions: 40,
    taskSeconds: 2,
    queueLockMs: LOCK_MS,
    async inject({ cluster, note }) {
      await cluster.api?.kill();
      note('API SIGKILLed');
      await sleep(FAULT_LENGTH_MS);
      await cluster.startApi().ready();
      note('API ready');
    },
  },
  {
    name: 'Redis restarted without persistence',
    slug: 'redis-restart',
    executions: 40,
    taskSeconds: 2,
    queueLockMs: LOCK_MS,
    async inject({ cluster, note }) {
      await cluster.redis.stop();
      note('Redis stopped');
      await sleep(FAULT_LENGTH_MS);
      await cluster.redis.start();
      note('Redis started, empty');
    },
  },
  {
    name: 'Postgres stopped 5 s',
    slug: 'postgres-5s',
    executions: 40,
    taskSeconds: 2,
    queueLockMs: LOCK_MS,
    inject: (context) => stopPostgres(context, 5000),
  },
  {
    name: 'Postgres stopped 30 s',
    slug: 'postgres-30s',
    executions: 40,
    taskSeconds: 2,
    queueLockMs: LOCK_MS,
    inject: (context) => stopPostgres(context, 30_000),
  },
  {
    name: 'Postgres unreachable at scheduler start',
    slug: 'postgres-down-at-scheduler-start',
    executions: 40,
    taskSeconds: 2,
    queueLockMs: LOCK_MS,
    async inject({ cluster, note }) {
      await cluster.scheduler?.kill();
      await cluster.pg.stop('fast');
      note('scheduler SIGKILLed, Postgres stopped');
      const scheduler = cluster.startScheduler();
      note('scheduler started while Postgres is down');
      await sleep(FAULT_LENGTH_MS);
      const survived = scheduler.alive;
      await cluster.pg.start();
      note('Postgres started');
      // Lifted either way, so that what follows shows whether the cluster recovers without that scheduler.
      if (!survived) throw new Error(`the scheduler started while Postgres was down exited before it came back (see its log)`);
      await scheduler.ready();
      note('scheduler ready');
    },
  },
  {
    name: 'Redis unreachable at scheduler start',
    slug: 'redis-down-at-scheduler-start',
    executions: 40,
    taskSeconds: 2,
    queueLockMs: LOCK_MS,
    async inject({ cluster, note }) {
      await cluster.scheduler?.kill();
      await cluster.redis.stop();
      note('scheduler SIGKILLed, Redis stopped');
      const scheduler = cluster.startScheduler();
      note('scheduler started while Redis is down');
      await sleep(FAULT_LENGTH_MS);
      const survived = scheduler.alive;
      await cluster.redis.start();
      note('Redis started, empty');
      // Lifted either way, so that what follows shows whether the cluster recovers without that scheduler.
      if (!survived) throw new Error(`the scheduler started while Redis was down exited before it came back (see its log)`);
      await scheduler.ready();
      note('scheduler ready');
    },
  },
];

const only = process.env.SLUICE_FAULTS?.trim();
const selected = only ? cases.filter((c) => c.name.includes(only) || c.slug.includes(only)) : cases;
const withFlowTrigger = !only || FLOW_TRIGGER_CASE.name.includes(only) || FLOW_TRIGGER_CASE.slug.includes(only);
const figures: FaultFigures[] = [];

describe.sequential('faults (issue #15): every execution SUCCESS, no attempt run twice at once, complete histories, nothing left over', () => {
  afterAll(async () => {
    await mkdir(resultsDir, { recursive: true });
    await writeFile(join(resultsDir, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`\nfault suite figures:\n${figures.map((f) => `- ${describeFigures(f)}`).join('\n')}\n`);
  });

  if (selected.length === 0 && !withFlowTrigger) throw new Error(`SLUICE_FAULTS=${only ?? ''} matches no fault case`);
  for (const fault of selected) {
    it(fault.name, async () => {
      const result = await runFault(fault);
      figures.push(result);
      console.log(`${describeFigures(result)}\n  ${result.notes.join('\n  ')}`);
      expect(result.problems).toEqual([]);
    }, 420_000);
  }
  // Issue #18: a case of its own (flow-trigger.ts), with its own checks.
  if (withFlowTrigger) it(FLOW_TRIGGER_CASE.name, flowTriggerExactlyOnce, 420_000);
});
