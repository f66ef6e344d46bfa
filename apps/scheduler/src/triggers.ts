/**
 * Schedule triggers (`io.kestra.plugin.core.trigger.Schedule`, alias `io.kestra.core.models.triggers.types.Schedule`):
 * each tick of the cron, in its time zone, starts one execution with the trigger's `inputs` — exactly once across
 * scheduler replicas, because a tick is claimed with a conditional UPDATE of the trigger row (`claimTick`).
 *
 * As in Kestra:
 * - a new trigger first fires at its next tick after now, unless it has a `backfill`: then its first tick is the first
 *   one at or after `backfill.start`, and every tick from there to `backfill.end` (or to when the trigger was first
 *   seen) fires, with the backfill's `labels`; after `end`, the trigger goes on from its next tick after now. A
 *   backfill added to a trigger that already exists does nothing (Kestra starts backfills from its UI);
 * - ticks missed while no scheduler ran (more than `lateMs` late) follow `recoverMissedSchedules`: `ALL` (the default)
 *   fires each of them, in order; `LAST` only the most recent one; `NONE` none, and the trigger goes on from its next
 *   tick after now;
 * - a tick later than the trigger's `lateMaximumDelay` (an ISO-8601 duration) is skipped, whatever the above says;
 * - a tick that does not meet the trigger's `conditions` (DayWeek, DayWeekInMonth, ...: `meetsScheduleConditions`) is
 *   skipped without a log line: the trigger moves on to its next tick.
 * A pass fires at most `maxTicksPerPass` ticks of one trigger, so a long catch-up spreads over passes.
 */
import { flowLabels, meetsScheduleConditions, mergeLabels, parseCron, parseDuration, resolveInputs } from '@sluice/core';
import type { Flow, TriggerSpec } from '@sluice/core';
import type { Db, TriggerSlot } from '@sluice/db';
import type { QueueDriver } from '@sluice/queue';

export const SCHEDULE_TYPES = ['io.kestra.plugin.core.trigger.schedule', 'io.kestra.core.models.triggers.types.schedule'];
/** The type an execution's `trigger` names, whichever alias the flow used. */
const SCHEDULE_TYPE = 'io.kestra.plugin.core.trigger.Schedule';

export interface TriggerLoopOptions {
  readonly db: Db;
  readonly queue: QueueDriver;
  readonly owner: string;
  readonly intervalMs: number;
  /** Re-read the flows' triggers this often. Default 10 × intervalMs. */
  readonly syncEveryMs?: number;
  /** A tick later than this was missed, and follows the trigger's `recoverMissedSchedules`. Default max(60 s, 5 × intervalMs). */
  readonly lateMs?: number;
  /** Ticks of one trigger fired (or skipped) per pass at most. Default 100. */
  readonly maxTicksPerPass?: number;
  readonly log: (line: string) => void;
  readonly now: () => Date;
}

function isSchedule(trigger: TriggerSpec): boolean {
  return SCHEDULE_TYPES.includes(trigger.type.toLowerCase()) && trigger.disabled !== true && typeof trigger.cron === 'string';
}

/** The trigger's tick strictly after (`next`) or before (`previous`) `at`, in its time zone; null when there is none. */
function tick(trigger: TriggerSpec, at: Date, direction: 'next' | 'previous'): Date | null {
  try {
    const cron = parseCron(String(trigger.cron), { withSeconds: trigger.withSeconds === true });
    return cron[direction](at, typeof trigger.timezone === 'string' ? trigger.timezone : 'UTC');
  } catch {
    return null;
  }
}

/** The tick after `after` for the trigger, or null when it never fires again. */
export function nextTick(trigger: TriggerSpec, after: Date): Date | null {
  return tick(trigger, after, 'next');
}

/** `lateMaximumDelay` in ms (validated with the flow; an unreadable one counts as unset, never stopping the pass). */
function lateMaximumDelayOf(trigger: TriggerSpec): number | undefined {
  if (typeof trigger.lateMaximumDelay !== 'string') return undefined;
  try {
    return parseDuration(trigger.lateMaximumDelay);
  } catch {
    return undefined;
  }
}

type Recovery = 'ALL' | 'LAST' | 'NONE';

function recoveryOf(trigger: TriggerSpec): Recovery {
  const value = trigger.recoverMissedSchedules;
  return value === 'LAST' || value === 'NONE' ? value : 'ALL';
}

interface Backfill {
  readonly start: Date;
  /** The last date backfilled: `backfill.end`, or when the trigger was first seen. */
  readonly end: Date;
  /** `end` was given. */
  readonly bounded: boolean;
  readonly labels: unknown;
}

/** The trigger's `backfill` (validated with the flow: `start` and `end` are dates), or undefined. */
function backfillOf(trigger: TriggerSpec, createdAt: Date): Backfill | undefined {
  const backfill = trigger.backfill as { start?: unknown; end?: unknown; labels?: unknown } | undefined;
  if (!backfill || typeof backfill.start !== 'string') return undefined;
  const start = new Date(backfill.start);
  const end = typeof backfill.end === 'string' ? new Date(backfill.end) : undefined;
  if (Number.isNaN(start.getTime()) || (end && Number.isNaN(end.getTime()))) return undefined;
  return { start, end: end ?? createdAt, bounded: end !== undefined, labels: backfill.labels };
}

/** The first tick of a new trigger: its next one after now, or with a backfill the first one at or after its start. */
function firstTick(trigger: TriggerSpec, now: Date): Date | null {
  const backfill = backfillOf(trigger, now);
  return backfill ? nextTick(trigger, new Date(backfill.start.getTime() - 1)) : nextTick(trigger, now);
}

const inWindow = (backfill: Backfill | undefined, at: Date): backfill is Backfill => backfill !== undefined && at >= backfill.start && at <= backfill.end;

/** What to do with a due tick: fire it or not; `next` is the tick the trigger moves on to; `reason`, why it is skipped (logged). */
interface TickPlan {
  readonly fire: boolean;
  readonly next: Date | null;
  readonly reason?: string;
}

/** The plan for a due tick of a trigger first seen at `createdAt`. */
function planTick(trigger: TriggerSpec, due: Date, now: Date, lateMs: number, createdAt: Date): TickPlan {
  const plan = planByTime(trigger, due, now, lateMs, createdAt);
  const timeZone = typeof trigger.timezone === 'string' ? trigger.timezone : 'UTC';
  // A tick its conditions rule out is not a skipped one: Kestra's trigger simply moves on, without a word.
  if (plan.fire && !meetsScheduleConditions(trigger.conditions, due, timeZone)) return { fire: false, next: plan.next };
  return plan;
}

/** The plan by the tick's date alone: backfill, `lateMaximumDelay`, `recoverMissedSchedules`. */
function planByTime(trigger: TriggerSpec, due: Date, now: Date, lateMs: number, createdAt: Date): TickPlan {
  const backfill = backfillOf(trigger, createdAt);
  if (inWindow(backfill, due)) {
    // After a backfill's given end, the trigger goes on from now: the ticks between its end and now are not missed.
    const next = nextTick(trigger, due);
    const jump = backfill.bounded && next !== null && next > backfill.end && next <= now;
    return { fire: true, next: jump ? nextTick(trigger, now) : next };
  }
  const lateBy = now.getTime() - due.getTime();
  const maximumDelay = lateMaximumDelayOf(trigger);
  if (maximumDelay !== undefined && lateBy > maximumDelay) {
    return { fire: false, next: nextTick(trigger, due), reason: `more than lateMaximumDelay ${trigger.lateMaximumDelay} late` };
  }
  if (lateBy <= lateMs) return { fire: true, next: nextTick(trigger, due) };
  switch (recoveryOf(trigger)) {
    case 'ALL':
      return { fire: true, next: nextTick(trigger, due) };
    case 'NONE':
      return { fire: false, next: nextTick(trigger, now), reason: 'recoverMissedSchedules: NONE' };
    case 'LAST': {
      // The most recent tick at or before now fires; the missed ones before it do not.
      const last = tick(trigger, new Date(now.getTime() + 1), 'previous');
      if (last && last > due) return { fire: false, next: last, reason: 'recoverMissedSchedules: LAST' };
      return { fire: true, next: nextTick(trigger, due) };
    }
  }
}

/**
 * Kestra's Schedule variables, `trigger.date` (the tick this execution is for), `trigger.next` and
 * `trigger.previous`, as ISO-8601 instants in UTC (Kestra gives them in the trigger's time zone: format them with
 * `date(format, timeZone=...)` for local dates).
 */
export function scheduleVariables(trigger: TriggerSpec, due: Date, next: Date | null): Record<string, string> {
  const previous = tick(trigger, due, 'previous');
  return { date: due.toISOString(), ...(next ? { next: next.toISOString() } : {}), ...(previous ? { previous: previous.toISOString() } : {}) };
}

export class TriggerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastSync = 0;
  private readonly flows = new Map<string, Flow>();

  constructor(private readonly options: TriggerLoopOptions) {}

  start(): void {
    const tick = (): void => {
      this.running = this.tick()
        .catch((error: unknown) => this.options.log(`scheduler: trigger check failed: ${error instanceof Error ? error.message : String(error)}`))
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: sync trigger rows (now and then), then fire the due ticks this replica wins. */
  async tick(): Promise<void> {
    const now = this.options.now();
    if (now.getTime() - this.lastSync >= (this.options.syncEveryMs ?? this.options.intervalMs * 10)) await this.sync(now);
    for (const slot of await this.options.db.scheduler.dueTriggers(now)) await this.fire(slot, now);
  }

  private async sync(now: Date): Promise<void> {
    this.lastSync = now.getTime();
    const rows = await this.options.db.prisma.flow.findMany({ where: { latest: true, deleted: false }, select: { namespace: true, flowId: true, parsed: true } });
    this.flows.clear();
    const wanted: { namespace: string; flowId: string; triggerId: string; firstFireDate: Date | null; resumeFireDate?: Date | null }[] = [];
    for (const row of rows) {
      const flow = row.parsed as unknown as Flow;
      if (flow.disabled === true || !Array.isArray(flow.triggers)) continue;
      for (const trigger of flow.triggers) {
        if (!isSchedule(trigger)) {
          // Other triggers (a Webhook) keep a row too, never due: it holds their `disabled` flag and lists them in the
          // trigger search. A Schedule disabled in its YAML has none: re-enabled, it starts afresh.
          const keep = trigger.disabled !== true && !SCHEDULE_TYPES.includes(trigger.type.toLowerCase());
          if (keep) wanted.push({ namespace: row.namespace, flowId: row.flowId, triggerId: trigger.id, firstFireDate: null });
          continue;
        }
        this.flows.set(`${row.namespace}\u0000${row.flowId}`, flow);
        // A row without a next tick (made by the API, or re-enabled after its tick passed) resumes from the next one.
        wanted.push({ namespace: row.namespace, flowId: row.flowId, triggerId: trigger.id, firstFireDate: firstTick(trigger, now), resumeFireDate: nextTick(trigger, now) });
      }
    }
    await this.options.db.scheduler.syncTriggers(wanted, now);
  }

  /** Fire (or skip) the due ticks of one trigger, at most `maxTicksPerPass`, as long as this replica wins them. */
  private async fire(slot: TriggerSlot, now: Date): Promise<void> {
    const flow = this.flows.get(`${slot.namespace}\u0000${slot.flowId}`);
    const trigger = flow?.triggers?.find((t) => t.id === slot.triggerId);
    if (!flow || !trigger || !isSchedule(trigger)) return; // removed since the last sync; the next sync deletes it
    const lateMs = this.options.lateMs ?? Math.max(60_000, 5 * this.options.intervalMs);
    const name = `${slot.namespace}.${slot.flowId}/${slot.triggerId}`;
    let current = slot;
    for (let count = 0; count < (this.options.maxTicksPerPass ?? 100); count++) {
      const due = current.nextFireDate;
      if (!due || due > now) return;
      const plan = planTick(trigger, due, now, lateMs, current.createdAt);
      if (!(await this.options.db.scheduler.claimTick(current, due, plan.next, this.options.owner))) return; // another replica won
      current = { ...current, nextFireDate: plan.next };
      if (!plan.fire) {
        const to = plan.next ? `, next tick ${plan.next.toISOString()}` : '';
        if (plan.reason) this.options.log(`scheduler: skipped missed ticks of ${name} from ${due.toISOString()} (${plan.reason})${to}`);
        continue;
      }
      await this.startExecution(flow, trigger, slot, due, name);
    }
  }

  /** Start the execution of one tick. */
  private async startExecution(flow: Flow, trigger: TriggerSpec, slot: TriggerSlot, due: Date, name: string): Promise<void> {
    const latest = await this.options.db.flows.latest(slot.namespace, slot.flowId);
    if (!latest) return;
    let inputs: Record<string, unknown>;
    try {
      inputs = resolveInputs(flow.inputs, (trigger.inputs as Record<string, unknown> | undefined) ?? {});
    } catch (error) {
      this.options.log(`scheduler: trigger ${name} has invalid inputs: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const backfill = backfillOf(trigger, slot.createdAt);
    // The flow's labels, then the trigger's, then a backfill's: a later one replaces an earlier one of the same key.
    const sources = [flow.labels, trigger.labels, inWindow(backfill, due) ? backfill.labels : undefined];
    const labels = mergeLabels(...sources.map((source) => flowLabels({ labels: source as Flow['labels'] })));
    const execution = await this.options.db.executions.create({
      namespace: slot.namespace,
      flowId: slot.flowId,
      flowRevision: latest.revision,
      inputs,
      labels,
      trigger: { id: trigger.id, type: SCHEDULE_TYPE, variables: scheduleVariables(trigger, due, nextTick(trigger, due)) },
    });
    await this.options.queue.publishExecution({ type: 'created', executionId: execution.id, namespace: slot.namespace, flowId: slot.flowId });
    this.options.log(`scheduler: trigger ${name} fired for ${due.toISOString()}: execution ${execution.id}`);
  }
}
