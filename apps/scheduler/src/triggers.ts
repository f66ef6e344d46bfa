/**
 * Schedule triggers (`io.kestra.plugin.core.trigger.Schedule`, alias `io.kestra.core.models.triggers.types.Schedule`):
 * each tick of the cron, in its time zone, starts one execution with the trigger's `inputs` — exactly once across
 * scheduler replicas, because a tick is claimed with a conditional UPDATE of the trigger row (`claimTick`).
 *
 * Backfill is off by default, as in Kestra: a new trigger's first tick is the next one after now, and ticks missed
 * while no scheduler ran (more than `lateMs` late) are skipped, not replayed.
 */
import { flowLabels, parseCron, resolveInputs } from '@sluice/core';
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
  /** A tick later than this is skipped (no backfill). Default max(60 s, 5 × intervalMs). */
  readonly lateMs?: number;
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
    const wanted: { namespace: string; flowId: string; triggerId: string; firstFireDate: Date | null }[] = [];
    for (const row of rows) {
      const flow = row.parsed as unknown as Flow;
      if (flow.disabled === true || !Array.isArray(flow.triggers)) continue;
      for (const trigger of flow.triggers) {
        if (!isSchedule(trigger)) continue;
        this.flows.set(`${row.namespace}\u0000${row.flowId}`, flow);
        wanted.push({ namespace: row.namespace, flowId: row.flowId, triggerId: trigger.id, firstFireDate: nextTick(trigger, now) });
      }
    }
    await this.options.db.scheduler.syncTriggers(wanted);
  }

  private async fire(slot: TriggerSlot, now: Date): Promise<void> {
    const due = slot.nextFireDate;
    if (!due) return;
    const flow = this.flows.get(`${slot.namespace}\u0000${slot.flowId}`);
    const trigger = flow?.triggers?.find((t) => t.id === slot.triggerId);
    if (!flow || !trigger || !isSchedule(trigger)) return; // removed since the last sync; the next sync deletes it
    const lateMs = this.options.lateMs ?? Math.max(60_000, 5 * this.options.intervalMs);
    const late = now.getTime() - due.getTime() > lateMs;
    const next = nextTick(trigger, late ? now : due);
    if (!(await this.options.db.scheduler.claimTick(slot, due, next, this.options.owner))) return; // another replica won
    if (late) {
      this.options.log(`scheduler: skipped missed tick ${due.toISOString()} of ${slot.namespace}.${slot.flowId}/${slot.triggerId} (no backfill)`);
      return;
    }
    const latest = await this.options.db.flows.latest(slot.namespace, slot.flowId);
    if (!latest) return;
    let inputs: Record<string, unknown>;
    try {
      inputs = resolveInputs(flow.inputs, (trigger.inputs as Record<string, unknown> | undefined) ?? {});
    } catch (error) {
      this.options.log(`scheduler: trigger ${slot.namespace}.${slot.flowId}/${slot.triggerId} has invalid inputs: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const labels = [...flowLabels(flow), ...flowLabels({ labels: trigger.labels as Flow['labels'] })];
    const execution = await this.options.db.executions.create({
      namespace: slot.namespace,
      flowId: slot.flowId,
      flowRevision: latest.revision,
      inputs,
      labels,
      trigger: { id: trigger.id, type: SCHEDULE_TYPE, variables: scheduleVariables(trigger, due, next) },
    });
    await this.options.queue.publishExecution({ type: 'created', executionId: execution.id, namespace: slot.namespace, flowId: slot.flowId });
    this.options.log(`scheduler: trigger ${slot.namespace}.${slot.flowId}/${slot.triggerId} fired for ${due.toISOString()}: execution ${execution.id}`);
  }
}
