import { startTimer } from '@sluice/core';
import {
  ALL_WORKER_GROUPS,
  EXECUTIONS_QUEUE,
  LOGS_QUEUE,
  RESULTS_QUEUE,
  taskQueueName,
  type ConsumeOptions,
  type Consumer,
  type EnqueueOptions,
  type ExecutionMessage,
  type ExecutionUpdate,
  type FlowChange,
  type LogBatch,
  type QueueDriver,
  type QueueHealth,
  type ResultMessage,
  type TaskDelivery,
  type TaskJob,
  type TaskLeaseAnswer,
  type Unsubscribe,
  FINISHED_LEASE_SECONDS,
} from './contract.js';
import {
  assertLease,
  assertWorkerGroup,
  COMPLETED_RETENTION_SECONDS,
  concurrencyOf,
  DEFAULT_MAX_DELIVERIES,
  delayOf,
  FAILED_RETENTION_SECONDS,
  leaseKey,
  positiveInteger,
  REDELIVERY_DELAY_MS,
  reportToConsole,
  TransientRetry,
  type ErrorReporter,
} from './shared.js';

export interface InProcessQueueOptions {
  /** Deliveries of a results, logs or executions message before it is dropped and reported. Default 3. */
  readonly maxDeliveries?: number;
  /** Background failures: dropped messages, throwing subscribers. Default: `console.error`. */
  readonly onError?: (error: unknown, context: string) => void;
}

/** A FIFO with O(1) push and shift. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head += 1;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

interface Channel {
  /** Queue name, as the BullMQ driver names it (`tasks.<group>`, `results`...). */
  readonly name: string;
  /** Worker group of a task channel; undefined for the other channels. */
  readonly group: string | undefined;
  readonly ready: Fifo<Envelope>;
  /** Messages waiting for their delay (or redelivery pause) to elapse. */
  delayed: number;
  /** Round-robin position among the consumers. */
  cursor: number;
}

interface Envelope {
  readonly channel: Channel;
  /** The driver's own copy: every delivery gets a fresh clone of it. */
  readonly payload: unknown;
  readonly dedupKey: string | undefined;
  deliveries: number;
}

interface ConsumerState {
  readonly accepts: (channel: Channel) => boolean;
  readonly concurrency: number;
  readonly handle: (payload: unknown, envelope: Envelope) => Promise<void>;
  readonly transient: TransientRetry;
  inFlight: number;
  closed: boolean;
  /** Resolvers of `close()` calls waiting for the handlers in flight. */
  readonly idle: (() => void)[];
}

/**
 * The queue contract in memory, for `sluice server local`: one process, nothing durable.
 *
 * Per channel (a worker group's tasks, results, logs, executions) one FIFO; consumers take messages round-robin
 * up to their concurrency, so a message goes to exactly one consumer, and a task consumer of
 * {@link ALL_WORKER_GROUPS} competes for every group's tasks. Delivery is always asynchronous and every message is
 * deep-copied (`structuredClone`) on enqueue and on each delivery, as if it were serialized.
 *
 * Failure handling mirrors the BullMQ driver: a rejected results, logs or executions message is delivered again
 * after 100 ms, up to `maxDeliveries` times, then dropped and reported to `onError`; a rejected task job is not
 * delivered again (a BullMQ task job has one attempt; only a dead consumer brings it back) and is reported. A
 * transient rejection (`ConsumeOptions.transient`) is retried in place, without limit (see `TransientRetry`).
 * `dedupId`s stay known while waiting, delayed or active, then 1 hour after completion (24 hours after a drop).
 * Task leases live in a map, with their expiry dates.
 */
class InProcessQueue implements QueueDriver {
  readonly kind = 'in-process';
  readonly #maxDeliveries: number;
  readonly #onError: ErrorReporter;
  readonly #channels = new Map<string, Channel>();
  readonly #consumers: ConsumerState[] = [];
  /** Cancel functions of the pending delayed deliveries. */
  readonly #timers = new Set<() => void>();
  /** Dedup key → when it is forgotten (epoch ms; Infinity while the message is not finished). */
  readonly #known = new Map<string, number>();
  #knownWrites = 0;
  readonly #killed = new Set<string>();
  /** Task leases: key → holder, whether finished, and expiry (epoch ms). */
  readonly #leases = new Map<string, { holder: string; finished: boolean; expires: number }>();
  readonly #killSubscribers = new Set<(executionId: string) => void>();
  /** Subscribers to execution updates by kind (as the BullMQ driver's two channels): one to both is in both. */
  readonly #updateSubscribers = { ends: new Set<(update: ExecutionUpdate) => void>(), steps: new Set<(update: ExecutionUpdate) => void>() };
  readonly #flowSubscribers = new Set<(change: FlowChange) => void>();
  #pumpScheduled = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: InProcessQueueOptions) {
    this.#maxDeliveries = positiveInteger('maxDeliveries', options.maxDeliveries, DEFAULT_MAX_DELIVERIES);
    this.#onError = options.onError ?? reportToConsole;
  }

  health(): QueueHealth {
    return this.#closed ? { status: 'DOWN', error: 'the in-process queue driver is closed' } : { status: 'UP' };
  }

  async enqueueTask(group: string, job: TaskJob, options?: EnqueueOptions): Promise<void> {
    assertWorkerGroup(group);
    this.#enqueue(this.#channel(taskQueueName(group), group), job, options);
  }

  consumeTasks(group: string, options: ConsumeOptions, handler: (job: TaskJob, delivery: TaskDelivery) => Promise<void>): Consumer {
    assertWorkerGroup(group, true);
    if (group !== ALL_WORKER_GROUPS) this.#channel(taskQueueName(group), group);
    const accepts = group === ALL_WORKER_GROUPS ? (channel: Channel) => channel.group !== undefined : (channel: Channel) => channel.group === group;
    return this.#consume(accepts, options, taskQueueName(group), (payload, envelope) => handler(payload as TaskJob, { deliveryCount: envelope.deliveries }));
  }

  async pendingTasks(group: string): Promise<number> {
    assertWorkerGroup(group, true);
    let pending = 0;
    for (const channel of this.#channels.values()) {
      if (channel.group !== undefined && (group === ALL_WORKER_GROUPS || channel.group === group)) pending += channel.ready.size + channel.delayed;
    }
    return pending;
  }

  async hasTask(group: string, dedupId: string): Promise<boolean> {
    assertWorkerGroup(group);
    return this.#known.get(`${taskQueueName(group)}\n${dedupId}`) === Infinity;
  }

  async acquireTaskLease(taskRunId: string, attempt: number, holder: string, ttlMs: number, options?: { readonly killedExecutionId?: string }): Promise<TaskLeaseAnswer> {
    this.#assertOpen();
    assertLease(holder, ttlMs);
    const key = leaseKey(taskRunId, attempt);
    const lease = this.#lease(key);
    if (!lease || (!lease.finished && lease.holder === holder)) {
      this.#leases.set(key, { holder, finished: false, expires: Date.now() + ttlMs });
      const killedOf = options?.killedExecutionId;
      return killedOf === undefined ? { acquired: true } : { acquired: true, killed: this.#killed.has(killedOf) };
    }
    return { acquired: false, holder: lease.holder, finished: lease.finished, expiresInMs: Math.max(0, lease.expires - Date.now()) };
  }

  async taskLease(taskRunId: string, attempt: number): Promise<{ holder: string; finished: boolean; expiresInMs: number } | undefined> {
    this.#assertOpen();
    const lease = this.#lease(leaseKey(taskRunId, attempt));
    return lease ? { holder: lease.holder, finished: lease.finished, expiresInMs: Math.max(0, lease.expires - Date.now()) } : undefined;
  }

  async renewTaskLease(taskRunId: string, attempt: number, holder: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertLease(holder, ttlMs);
    const key = leaseKey(taskRunId, attempt);
    const lease = this.#lease(key);
    if (lease && (lease.finished || lease.holder !== holder)) return false;
    this.#leases.set(key, { holder, finished: false, expires: Date.now() + ttlMs });
    return true;
  }

  async releaseTaskLease(taskRunId: string, attempt: number, holder: string, finished: boolean): Promise<void> {
    this.#assertOpen();
    assertLease(holder);
    const key = leaseKey(taskRunId, attempt);
    const lease = this.#lease(key);
    if (lease && (lease.finished || lease.holder !== holder)) return;
    if (finished) this.#leases.set(key, { holder, finished: true, expires: Date.now() + FINISHED_LEASE_SECONDS * 1000 });
    else this.#leases.delete(key);
  }

  /** The lease under `key`, unless it expired (then forgotten). */
  #lease(key: string): { holder: string; finished: boolean; expires: number } | undefined {
    const lease = this.#leases.get(key);
    if (lease && lease.expires <= Date.now()) {
      this.#leases.delete(key);
      return undefined;
    }
    return lease;
  }

  async publishResult(message: ResultMessage, options?: EnqueueOptions): Promise<void> {
    this.#enqueue(this.#channel(RESULTS_QUEUE), message, options);
  }

  consumeResults(options: ConsumeOptions, handler: (message: ResultMessage) => Promise<void>): Consumer {
    return this.#consumeChannel(RESULTS_QUEUE, options, handler);
  }

  async publishLogs(batch: LogBatch): Promise<void> {
    this.#enqueue(this.#channel(LOGS_QUEUE), batch, undefined);
  }

  consumeLogs(options: ConsumeOptions, handler: (batch: LogBatch) => Promise<void>): Consumer {
    return this.#consumeChannel(LOGS_QUEUE, options, handler);
  }

  async publishExecution(message: ExecutionMessage, options?: EnqueueOptions): Promise<void> {
    this.#enqueue(this.#channel(EXECUTIONS_QUEUE), message, options);
  }

  consumeExecutions(options: ConsumeOptions, handler: (message: ExecutionMessage) => Promise<void>): Consumer {
    return this.#consumeChannel(EXECUTIONS_QUEUE, options, handler);
  }

  async killExecution(executionId: string): Promise<void> {
    this.#assertOpen();
    this.#killed.add(executionId);
    this.#broadcast(this.#killSubscribers, executionId, 'kill subscriber');
  }

  async isKilled(executionId: string): Promise<boolean> {
    return this.#killed.has(executionId);
  }

  async subscribeKills(handler: (executionId: string) => void): Promise<Unsubscribe> {
    return this.#subscribe(this.#killSubscribers, handler);
  }

  async publishExecutionUpdate(update: ExecutionUpdate): Promise<number> {
    this.#assertOpen();
    const subscribers = this.#updateSubscribers[update.ended ? 'ends' : 'steps'];
    // As over Redis: an `executionJson` arrives as the update's `execution`, parsed.
    const { executionJson, ...rest } = update;
    const delivered = executionJson === undefined ? structuredClone(rest) : { ...structuredClone(rest), execution: JSON.parse(executionJson) as Record<string, unknown> };
    this.#broadcast(subscribers, delivered, 'execution update subscriber');
    // Subscribing processes, as Redis counts them: this one, when any of its subscriptions takes this kind.
    return subscribers.size > 0 ? 1 : 0;
  }

  async subscribeExecutionUpdates(handler: (update: ExecutionUpdate) => void, options?: { readonly only?: 'ends' | 'steps' }): Promise<Unsubscribe> {
    const kinds = options?.only === undefined ? (['ends', 'steps'] as const) : [options.only];
    const unsubscribes = await Promise.all(kinds.map((kind) => this.#subscribe(this.#updateSubscribers[kind], handler)));
    return async () => {
      await Promise.all(unsubscribes.map((unsubscribe) => unsubscribe()));
    };
  }

  async publishFlowChange(change: FlowChange): Promise<void> {
    this.#assertOpen();
    this.#broadcast(this.#flowSubscribers, structuredClone(change), 'flow change subscriber');
  }

  async subscribeFlowChanges(handler: (change: FlowChange) => void): Promise<Unsubscribe> {
    return this.#subscribe(this.#flowSubscribers, handler);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      await Promise.all([...this.#consumers].map((consumer) => this.#closeConsumer(consumer, false)));
      for (const cancel of this.#timers) cancel();
      this.#timers.clear();
      this.#channels.clear();
      this.#known.clear();
      this.#leases.clear();
      this.#killSubscribers.clear();
      this.#updateSubscribers.ends.clear();
      this.#updateSubscribers.steps.clear();
      this.#flowSubscribers.clear();
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the in-process queue is closed');
  }

  #channel(name: string, group?: string): Channel {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = { name, group, ready: new Fifo(), delayed: 0, cursor: 0 };
      this.#channels.set(name, channel);
    }
    return channel;
  }

  #enqueue(channel: Channel, message: unknown, options: EnqueueOptions | undefined): void {
    this.#assertOpen();
    const delay = delayOf(options);
    const payload = structuredClone(message);
    const dedupKey = options?.dedupId === undefined ? undefined : `${channel.name}\n${options.dedupId}`;
    if (dedupKey !== undefined) {
      // A finished message (known until a finite date) no longer blocks a replacing enqueue.
      if (options?.replaceFinished === true && this.#known.get(dedupKey) !== Infinity) this.#known.delete(dedupKey);
      if (this.#isKnown(dedupKey)) return;
      this.#remember(dedupKey, Infinity);
    }
    const envelope: Envelope = { channel, payload, dedupKey, deliveries: 0 };
    if (delay > 0) {
      this.#later(envelope, delay);
    } else {
      channel.ready.push(envelope);
      this.#schedulePump();
    }
  }

  #isKnown(key: string): boolean {
    const until = this.#known.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#known.delete(key);
    return false;
  }

  #remember(key: string, until: number): void {
    this.#known.set(key, until);
    this.#knownWrites += 1;
    if (this.#knownWrites % 1024 !== 0) return;
    const now = Date.now();
    for (const [known, expires] of this.#known) if (expires <= now) this.#known.delete(known);
  }

  /**
   * Put the message back on its channel after `delayMs` (counted as pending meanwhile). A delay beyond a timer's range
   * (about 24.8 days, where setTimeout would fire at once) is waited out in several timers, as BullMQ would wait.
   */
  #later(envelope: Envelope, delayMs: number): void {
    if (this.#closed) return;
    const { channel } = envelope;
    channel.delayed += 1;
    const cancel = startTimer(delayMs, () => {
      this.#timers.delete(cancel);
      channel.delayed -= 1;
      channel.ready.push(envelope);
      this.#schedulePump();
    });
    this.#timers.add(cancel);
  }

  #consumeChannel<T>(name: string, options: ConsumeOptions, handler: (message: T) => Promise<void>): Consumer {
    const channel = this.#channel(name);
    return this.#consume((candidate) => candidate === channel, options, name, (payload) => handler(payload as T));
  }

  #consume(accepts: (channel: Channel) => boolean, options: ConsumeOptions, name: string, handle: ConsumerState['handle']): Consumer {
    this.#assertOpen();
    const concurrency = concurrencyOf(options);
    const countWaiting = async (): Promise<number> => {
      let waiting = 0;
      for (const channel of this.#channels.values()) if (accepts(channel)) waiting += channel.ready.size + channel.delayed;
      return waiting + state.inFlight;
    };
    const transient = new TransientRetry(options, name, countWaiting, (error, context) => this.#report(error, context));
    const state: ConsumerState = { accepts, concurrency, handle, transient, inFlight: 0, closed: false, idle: [] };
    this.#consumers.push(state);
    this.#schedulePump();
    return { close: (closeOptions) => this.#closeConsumer(state, closeOptions?.force ?? false) };
  }

  #closeConsumer(state: ConsumerState, force: boolean): Promise<void> {
    if (!state.closed) {
      state.closed = true;
      const index = this.#consumers.indexOf(state);
      if (index >= 0) this.#consumers.splice(index, 1);
      state.transient.close();
    }
    if (force || state.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => state.idle.push(resolve));
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#closed) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Hand every ready message to a consumer with a free slot, channel by channel, in FIFO order. */
  #pump(): void {
    if (this.#closed) return;
    for (const channel of this.#channels.values()) {
      while (channel.ready.size > 0) {
        const consumer = this.#nextConsumer(channel);
        if (!consumer) break;
        const envelope = channel.ready.shift();
        if (envelope) this.#deliver(consumer, envelope);
      }
    }
  }

  #nextConsumer(channel: Channel): ConsumerState | undefined {
    const count = this.#consumers.length;
    for (let offset = 0; offset < count; offset += 1) {
      const index = (channel.cursor + offset) % count;
      const consumer = this.#consumers[index];
      if (consumer && !consumer.closed && consumer.inFlight < consumer.concurrency && consumer.accepts(channel)) {
        channel.cursor = (index + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }

  #deliver(consumer: ConsumerState, envelope: Envelope): void {
    consumer.inFlight += 1;
    envelope.deliveries += 1;
    void (async () => {
      try {
        // Each try gets its own copy of the message; transient failures are retried in place (not deliveries).
        const outcome = await consumer.transient.run(() => consumer.handle(structuredClone(envelope.payload), envelope));
        if (outcome === 'closed') {
          // The consumer closed while the message waited for a retry: back to its channel for the next consumer.
          envelope.deliveries -= 1;
          this.#later(envelope, consumer.transient.delayMs());
          return;
        }
        this.#settled(envelope, COMPLETED_RETENTION_SECONDS);
      } catch (error) {
        this.#failed(envelope, error);
      } finally {
        consumer.inFlight -= 1;
        if (consumer.inFlight === 0) for (const resolve of consumer.idle.splice(0)) resolve();
        this.#schedulePump();
      }
    })();
  }

  #settled(envelope: Envelope, retentionSeconds: number): void {
    if (envelope.dedupKey !== undefined) this.#remember(envelope.dedupKey, Date.now() + retentionSeconds * 1000);
  }

  #failed(envelope: Envelope, error: unknown): void {
    const { channel, deliveries } = envelope;
    if (channel.group === undefined && deliveries < this.#maxDeliveries) {
      this.#later(envelope, REDELIVERY_DELAY_MS);
      return;
    }
    this.#settled(envelope, FAILED_RETENTION_SECONDS);
    const context =
      channel.group === undefined
        ? `${channel.name}: message dropped after ${deliveries} failed deliveries`
        : `${channel.name}: task handler failed (task jobs are not delivered again)`;
    this.#report(error, context);
  }

  #broadcast<T>(subscribers: Set<(value: T) => void>, value: T, context: string): void {
    // Like pub/sub: those subscribed now receive it, later; never inside the publisher's call.
    const receivers = [...subscribers];
    if (receivers.length === 0) return;
    setImmediate(() => {
      for (const receiver of receivers) {
        try {
          receiver(structuredClone(value));
        } catch (error) {
          this.#report(error, context);
        }
      }
    });
  }

  async #subscribe<T>(subscribers: Set<(value: T) => void>, handler: (value: T) => void): Promise<Unsubscribe> {
    this.#assertOpen();
    // A wrapper per subscription, so one handler subscribed twice is two subscriptions.
    const receiver = (value: T): void => handler(value);
    subscribers.add(receiver);
    return async () => {
      subscribers.delete(receiver);
    };
  }

  #report(error: unknown, context: string): void {
    try {
      this.#onError(error, context);
    } catch {
      // An onError that throws must not break the queue.
    }
  }
}

/** The in-process queue driver (kind `in-process`): see {@link InProcessQueue}. */
export function createInProcessQueue(options: InProcessQueueOptions = {}): QueueDriver {
  return new InProcessQueue(options);
}
