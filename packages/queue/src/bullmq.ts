import { DelayedError, Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import {
  EXECUTIONS_QUEUE,
  LOGS_QUEUE,
  QUEUE_PREFIX,
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
  KILL_MARK_SECONDS,
  leaseKey,
  positiveInteger,
  REDELIVERY_DELAY_MS,
  reportToConsole,
  TransientRetry,
  type ErrorReporter,
} from './shared.js';

export interface BullmqQueueOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  readonly url: string;
  /** Prefix of every Redis key and pub/sub channel. Default {@link QUEUE_PREFIX}. */
  readonly prefix?: string;
  /** How long a consumer's lock on a job lasts without renewal (renewed every half of it). Default 30 000. */
  readonly lockDurationMs?: number;
  /** How often consumers look for jobs whose lock expired (their consumer died). Default 30 000. */
  readonly stalledIntervalMs?: number;
  /** Times a task job may stall and come back before it fails. Default 1. */
  readonly maxStalledCount?: number;
  /** Deliveries of a results, logs or executions message before it fails. Default 3. */
  readonly maxDeliveries?: number;
  /** Background failures: connection errors, failed jobs, throwing subscribers. Default: `console.error`. */
  readonly onError?: (error: unknown, context: string) => void;
}

const TASK_JOB = 'task';
const RESULT_JOB = 'result';
const LOGS_JOB = 'logs';
const EXECUTION_JOB = 'execution';

/**
 * BullMQ custom job id of a `dedupId`. BullMQ refuses ids that are integers or contain `:`, so the id is prefixed
 * and percent-encoded (`exec:1` → `j-exec%3A1`); the encoding is injective, so distinct dedupIds stay distinct.
 */
export function bullmqJobId(dedupId: string): string {
  return `j-${encodeURIComponent(dedupId)}`;
}

/** A lease's value: `run` or `done`, a newline, its holder. */
const LEASE_RUN = 'run\n';
const LEASE_DONE = 'done\n';

/**
 * KEYS[1] lease, KEYS[2] (optional) an execution's kill mark; ARGV run value, ttl. Acquired: {1}, or {1, killed} with
 * KEYS[2]; else {0, value, pttl}.
 */
const ACQUIRE_LEASE = `
local value = redis.call('GET', KEYS[1])
if (not value) or value == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if KEYS[2] then return {1, redis.call('EXISTS', KEYS[2])} end
  return {1}
end
return {0, value, redis.call('PTTL', KEYS[1])}`;

/** KEYS[1] lease; ARGV run value, ttl. Renewed (or taken again when it vanished): 1; held by another or done: 0. */
const RENEW_LEASE = `
local value = redis.call('GET', KEYS[1])
if (not value) or value == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/** KEYS[1] lease; ARGV run value, done value ('' to delete), done ttl. Only the holder's lease (or none) is touched. */
const RELEASE_LEASE = `
local value = redis.call('GET', KEYS[1])
if value and value ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1`;

/** Job states of a task job still to be handled (not completed or failed). */
const UNFINISHED_STATES: ReadonlySet<string> = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

interface WorkerEntry {
  readonly worker: Worker;
  readonly connection: Redis;
  readonly transient: TransientRetry;
  /** Resolves once the consumer is closed, gracefully or by force (whichever finished first). */
  readonly closed: Promise<void>;
  readonly markClosed: () => void;
  done: boolean;
  /** The graceful close: pause (stop fetching, wait for the jobs in flight), then close. */
  graceful?: Promise<void>;
  /** The forced close: `Worker.close(true)` at once. */
  forced?: Promise<void>;
}

/**
 * The queue contract on Redis with BullMQ (every deployment beyond one process).
 *
 * Connections: one shared by every Queue (enqueue, counts) and the plain commands (kill marks, PUBLISH); one per
 * consumer (BullMQ duplicates it for its blocking fetch and owns the duplicate); one for pub/sub subscriptions,
 * opened with the first subscription. All use `maxRetriesPerRequest: null`: commands wait for Redis to come back
 * rather than fail. `health()` says DOWN while the shared connection is not ready, so a caller that must not wait
 * (the API) can tell before it publishes.
 *
 * Task jobs have one attempt: a rejected task handler fails the job (reported to `onError`); only a consumer that
 * stops renewing its lock (it died) gets the job back, through BullMQ's stalled-job check, up to `maxStalledCount`
 * times. Results, logs and execution messages have `maxDeliveries` attempts, 100 ms apart; a transient failure
 * (`ConsumeOptions.transient`) is not an attempt: the handler runs again after a backoff while the job stays active
 * (its lock renewed), and a consumer closed meanwhile moves the job to delayed (`DelayedError`: no attempt counted).
 * Finished jobs with a `dedupId` are kept (so it stays known) 1 hour when completed, 24 hours when failed; a completed job
 * without one is removed at once (a failed one is kept 24 hours, for inspection).
 *
 * Task leases are keys `<prefix>:lease:<taskRunId>:<attempt>` holding `run\n<holder>` with a TTL, or `done\n<holder>`
 * once finished; acquire, renew and release are Lua scripts (compare-and-set on the holder).
 */
class BullmqQueue implements QueueDriver {
  readonly kind = 'bullmq';
  readonly #url: string;
  readonly #prefix: string;
  readonly #lockDuration: number;
  readonly #stalledInterval: number;
  readonly #maxStalledCount: number;
  readonly #maxDeliveries: number;
  readonly #onError: ErrorReporter;
  readonly #connection: Redis;
  readonly #queues = new Map<string, Queue>();
  readonly #workers = new Set<WorkerEntry>();
  #subscriber: Redis | undefined;
  /** Pub/sub channel → local handlers. */
  readonly #subscriptions = new Map<string, Set<(message: string) => void>>();
  /** Channels the subscriber connection is subscribed to. */
  readonly #subscribed = new Set<string>();
  /** SUBSCRIBE / UNSUBSCRIBE calls, one after the other. */
  #subscriptionChanges: Promise<unknown> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The shared connection's last error since it was last ready (what {@link health} reports). */
  #connectionError: string | undefined;

  constructor(options: BullmqQueueOptions) {
    if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
      throw new Error(`Invalid Redis URL ${JSON.stringify(options.url)}: expected redis://host:port or rediss://host:port`);
    }
    const prefix = options.prefix ?? QUEUE_PREFIX;
    if (prefix === '' || prefix.includes(':')) throw new Error(`Invalid queue prefix "${prefix}": it must be non-empty and contain no ':'`);
    this.#url = options.url;
    this.#prefix = prefix;
    this.#lockDuration = positiveInteger('lockDurationMs', options.lockDurationMs, 30_000);
    this.#stalledInterval = positiveInteger('stalledIntervalMs', options.stalledIntervalMs, 30_000);
    this.#maxStalledCount = options.maxStalledCount ?? 1;
    if (!Number.isInteger(this.#maxStalledCount) || this.#maxStalledCount < 0) {
      throw new Error(`Invalid maxStalledCount ${String(this.#maxStalledCount)}: it must be an integer >= 0`);
    }
    this.#maxDeliveries = positiveInteger('maxDeliveries', options.maxDeliveries, DEFAULT_MAX_DELIVERIES);
    this.#onError = options.onError ?? reportToConsole;
    this.#connection = this.#connect('shared connection');
    this.#connection.on('error', (error: unknown) => {
      this.#connectionError = errorText(error);
    });
    this.#connection.on('ready', () => {
      this.#connectionError = undefined;
    });
  }

  health(): QueueHealth {
    if (this.#closed) return { status: 'DOWN', error: 'the BullMQ queue driver is closed' };
    const status = this.#connection.status;
    if (status === 'ready') return { status: 'UP' };
    return { status: 'DOWN', error: this.#connectionError ?? `Redis connection ${status}` };
  }

  async enqueueTask(group: string, job: TaskJob, options?: EnqueueOptions): Promise<void> {
    assertWorkerGroup(group);
    await this.#add(taskQueueName(group), TASK_JOB, job, { attempts: 1 }, options);
  }

  consumeTasks(group: string, options: ConsumeOptions, handler: (job: TaskJob, delivery: TaskDelivery) => Promise<void>): Consumer {
    assertWorkerGroup(group);
    // stalledCounter counts the times the job came back after its consumer died (BullMQ's `stc` field).
    return this.#consume(taskQueueName(group), options, (job: Job<TaskJob>) => handler(job.data, { deliveryCount: 1 + (job.stalledCounter || 0) }));
  }

  async pendingTasks(group: string): Promise<number> {
    assertWorkerGroup(group);
    this.#assertOpen();
    return this.#queue(taskQueueName(group)).getJobCountByTypes('waiting', 'delayed', 'prioritized');
  }

  async hasTask(group: string, dedupId: string): Promise<boolean> {
    assertWorkerGroup(group);
    this.#assertOpen();
    const state = await this.#queue(taskQueueName(group)).getJobState(bullmqJobId(dedupId));
    return UNFINISHED_STATES.has(state);
  }

  async acquireTaskLease(taskRunId: string, attempt: number, holder: string, ttlMs: number, options?: { readonly killedExecutionId?: string }): Promise<TaskLeaseAnswer> {
    this.#assertOpen();
    assertLease(holder, ttlMs);
    const killedOf = options?.killedExecutionId;
    const keys = killedOf === undefined ? [this.#leaseKey(taskRunId, attempt)] : [this.#leaseKey(taskRunId, attempt), this.#killedKey(killedOf)];
    const answer = (await this.#connection.eval(ACQUIRE_LEASE, keys.length, ...keys, LEASE_RUN + holder, ttlMs)) as [number, (string | number)?, number?];
    if (answer[0] === 1) return killedOf === undefined ? { acquired: true } : { acquired: true, killed: answer[1] === 1 };
    const value = String(answer[1] ?? '');
    const finished = value.startsWith(LEASE_DONE);
    return {
      acquired: false,
      holder: value.slice(value.indexOf('\n') + 1),
      finished,
      expiresInMs: Math.max(0, answer[2] ?? 0),
    };
  }

  async taskLease(taskRunId: string, attempt: number): Promise<{ holder: string; finished: boolean; expiresInMs: number } | undefined> {
    this.#assertOpen();
    const key = this.#leaseKey(taskRunId, attempt);
    const [value, ttl] = await Promise.all([this.#connection.get(key), this.#connection.pttl(key)]);
    if (value === null) return undefined;
    return { holder: value.slice(value.indexOf('\n') + 1), finished: value.startsWith(LEASE_DONE), expiresInMs: Math.max(0, ttl) };
  }

  async renewTaskLease(taskRunId: string, attempt: number, holder: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    assertLease(holder, ttlMs);
    return (await this.#connection.eval(RENEW_LEASE, 1, this.#leaseKey(taskRunId, attempt), LEASE_RUN + holder, ttlMs)) === 1;
  }

  async releaseTaskLease(taskRunId: string, attempt: number, holder: string, finished: boolean): Promise<void> {
    this.#assertOpen();
    assertLease(holder);
    const done = finished ? LEASE_DONE + holder : '';
    await this.#connection.eval(RELEASE_LEASE, 1, this.#leaseKey(taskRunId, attempt), LEASE_RUN + holder, done, FINISHED_LEASE_SECONDS * 1000);
  }

  async publishResult(message: ResultMessage, options?: EnqueueOptions): Promise<void> {
    await this.#add(RESULTS_QUEUE, RESULT_JOB, message, this.#redelivered(), options);
  }

  consumeResults(options: ConsumeOptions, handler: (message: ResultMessage) => Promise<void>): Consumer {
    return this.#consume(RESULTS_QUEUE, options, (job: Job<ResultMessage>) => handler(job.data));
  }

  async publishLogs(batch: LogBatch): Promise<void> {
    await this.#add(LOGS_QUEUE, LOGS_JOB, batch, this.#redelivered(), undefined);
  }

  consumeLogs(options: ConsumeOptions, handler: (batch: LogBatch) => Promise<void>): Consumer {
    return this.#consume(LOGS_QUEUE, options, (job: Job<LogBatch>) => handler(job.data));
  }

  async publishExecution(message: ExecutionMessage, options?: EnqueueOptions): Promise<void> {
    await this.#add(EXECUTIONS_QUEUE, EXECUTION_JOB, message, this.#redelivered(), options);
  }

  consumeExecutions(options: ConsumeOptions, handler: (message: ExecutionMessage) => Promise<void>): Consumer {
    return this.#consume(EXECUTIONS_QUEUE, options, (job: Job<ExecutionMessage>) => handler(job.data));
  }

  async killExecution(executionId: string): Promise<void> {
    this.#assertOpen();
    await this.#connection.set(this.#killedKey(executionId), '1', 'EX', KILL_MARK_SECONDS);
    await this.#connection.publish(this.#channel('kills'), executionId);
  }

  async isKilled(executionId: string): Promise<boolean> {
    this.#assertOpen();
    return (await this.#connection.exists(this.#killedKey(executionId))) === 1;
  }

  subscribeKills(handler: (executionId: string) => void): Promise<Unsubscribe> {
    return this.#subscribe(this.#channel('kills'), handler, 'kill subscriber');
  }

  /** Ends on `execution-ends`, the other updates on `execution-updates`: a subscriber to ends only reads no other. */
  async publishExecutionUpdate(update: ExecutionUpdate): Promise<number> {
    this.#assertOpen();
    return this.#connection.publish(this.#channel(update.ended ? 'execution-ends' : 'execution-updates'), updateMessage(update));
  }

  async subscribeExecutionUpdates(handler: (update: ExecutionUpdate) => void, options?: { readonly only?: 'ends' | 'steps' }): Promise<Unsubscribe> {
    const parsed = (message: string): void => handler(JSON.parse(message) as ExecutionUpdate);
    const subscribe = (name: string): Promise<Unsubscribe> => this.#subscribe(this.#channel(name), parsed, 'execution update subscriber');
    if (options?.only === 'ends') return subscribe('execution-ends');
    if (options?.only === 'steps') return subscribe('execution-updates');
    const ends = await subscribe('execution-ends');
    let steps: Unsubscribe;
    try {
      steps = await subscribe('execution-updates');
    } catch (error) {
      await ends().catch(() => undefined);
      throw error;
    }
    return async () => {
      await Promise.all([ends(), steps()]);
    };
  }

  async publishFlowChange(change: FlowChange): Promise<void> {
    this.#assertOpen();
    await this.#connection.publish(this.#channel('flow-changes'), JSON.stringify(change));
  }

  subscribeFlowChanges(handler: (change: FlowChange) => void): Promise<Unsubscribe> {
    return this.#subscribe(this.#channel('flow-changes'), (message) => handler(JSON.parse(message) as FlowChange), 'flow change subscriber');
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      await Promise.all([...this.#workers].map((entry) => this.#closeWorker(entry, false)));
      await Promise.all([...this.#queues.values()].map((queue) => this.#settle(queue.close(), 'closing a queue')));
      this.#queues.clear();
      await this.#subscriptionChanges.catch(() => undefined);
      this.#subscriptions.clear();
      await Promise.all([this.#subscriber, this.#connection].map((connection) => (connection ? this.#quit(connection) : undefined)));
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the BullMQ queue driver is closed');
  }

  /**
   * A connection. Not auto-pipelined (issue #20, third pass): ioredis builds a pipeline object for each tick's commands
   * and copies onto it every script defined on the connection, and BullMQ defines about sixty. With the processes warm,
   * that cost more CPU than the socket writes it saved (docs/benchmarks.md, "Third pass: the steady state").
   */
  #connect(role: string): Redis {
    const connection = new Redis(this.#url, { maxRetriesPerRequest: null });
    connection.on('error', (error: unknown) => this.#report(error, `Redis ${role}`));
    return connection;
  }

  async #quit(connection: Redis): Promise<void> {
    if (connection.status === 'end') return;
    try {
      await connection.quit();
    } catch {
      connection.disconnect();
    }
  }

  #leaseKey(taskRunId: string, attempt: number): string {
    return `${this.#prefix}:lease:${leaseKey(taskRunId, attempt)}`;
  }

  #killedKey(executionId: string): string {
    return `${this.#prefix}:killed:${executionId}`;
  }

  #channel(name: string): string {
    return `${this.#prefix}:${name}`;
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.#connection, prefix: this.#prefix });
      queue.on('error', (error: unknown) => this.#report(error, `queue ${name}`));
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /** Job options of the channels whose failed messages are delivered again. */
  #redelivered(): JobsOptions {
    return { attempts: this.#maxDeliveries, backoff: { type: 'fixed', delay: REDELIVERY_DELAY_MS } };
  }

  async #add(queueName: string, jobName: string, data: unknown, jobOptions: JobsOptions, options: EnqueueOptions | undefined): Promise<void> {
    this.#assertOpen();
    const delay = delayOf(options);
    const queue = this.#queue(queueName);
    if (options?.dedupId !== undefined && options.replaceFinished === true) {
      // A finished job with this id would make add() a no-op: remove it first (one still to be handled stays).
      const jobId = bullmqJobId(options.dedupId);
      const state = await queue.getJobState(jobId);
      if (state === 'completed' || state === 'failed') await queue.remove(jobId);
    }
    await queue.add(jobName, data, {
      ...jobOptions,
      // A completed job is kept only for its dedupId (as the in-process driver keeps only those): one without is removed
      // at once, which spares each completion the trimming of the completed set.
      removeOnComplete: options?.dedupId === undefined ? true : { age: COMPLETED_RETENTION_SECONDS, count: 10_000 },
      removeOnFail: { age: FAILED_RETENTION_SECONDS },
      ...(delay > 0 ? { delay } : {}),
      ...(options?.dedupId !== undefined ? { jobId: bullmqJobId(options.dedupId) } : {}),
    });
  }

  #consume<T>(queueName: string, options: ConsumeOptions, process: (job: Job<T>) => Promise<void>): Consumer {
    this.#assertOpen();
    const concurrency = concurrencyOf(options);
    const connection = this.#connect(`consumer connection of ${queueName}`);
    const countWaiting = (): Promise<number> => this.#queue(queueName).getJobCountByTypes('waiting', 'delayed', 'prioritized', 'active');
    const transient = new TransientRetry(options, queueName, countWaiting, (error, context) => this.#report(error, context));
    const worker = new Worker<T>(
      queueName,
      async (job, token) => {
        if ((await transient.run(() => process(job))) === 'closed') {
          // Closing while the message waits for a retry: back to the queue (delayed), not counted as an attempt.
          await job.moveToDelayed(Date.now() + transient.delayMs(), token);
          throw new DelayedError();
        }
      },
      {
        connection,
        prefix: this.#prefix,
        concurrency,
        lockDuration: this.#lockDuration,
        stalledInterval: this.#stalledInterval,
        maxStalledCount: this.#maxStalledCount,
      },
    );
    worker.on('error', (error: unknown) => this.#report(error, `consumer of ${queueName}`));
    worker.on('failed', (job: Job<T> | undefined, error: Error) => {
      // Reported once, when the job has no attempt left (earlier failures are retried).
      if (job && job.attemptsMade < (job.opts.attempts ?? 1)) return;
      this.#report(error, `${queueName}: job ${job?.id ?? '?'} failed after ${job?.attemptsMade ?? '?'} attempt(s)`);
    });
    let markClosed = (): void => undefined;
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    const entry: WorkerEntry = { worker, connection, transient, closed, markClosed, done: false };
    this.#workers.add(entry);
    return { close: (closeOptions) => this.#closeWorker(entry, closeOptions?.force ?? false) };
  }

  /**
   * Close a consumer. BullMQ's `Worker.close(force)` keeps its first call (a later `close(true)` returns the pending
   * graceful close), so a graceful close never calls it while jobs are in flight: it pauses the worker first (no more
   * fetching; resolves once the active jobs have finished) and calls `close()` only then. A forced close thus always
   * reaches `Worker.close(true)`, even while a graceful close is pending: it stops renewing the locks of the jobs in
   * flight (their handlers may never settle: the stalled-job check of another consumer delivers them again) and
   * closes the connections at once. Either close, once finished, settles every pending `close()` of the consumer and
   * of the driver: a graceful close left waiting for a handler that never settles does not hold them.
   */
  #closeWorker(entry: WorkerEntry, force: boolean): Promise<void> {
    if (entry.done) return entry.closed;
    // Messages waiting for a transient retry go back to the queue rather than hold the close.
    entry.transient.close();
    if (force) {
      entry.forced ??= (async () => {
        await this.#settle(entry.worker.close(true), 'closing a consumer (force)');
        await this.#consumerClosed(entry);
      })();
    } else if (!entry.graceful && !entry.forced) {
      entry.graceful = (async () => {
        await this.#settle(entry.worker.pause(), 'pausing a consumer');
        // A forced close took over meanwhile (and the handlers it left behind have settled since): it finishes.
        if (entry.forced) return;
        await this.#settle(entry.worker.close(), 'closing a consumer');
        await this.#consumerClosed(entry);
      })();
    }
    return entry.closed;
  }

  /** The consumer's worker is closed: release its connection and settle its `close()` calls. */
  async #consumerClosed(entry: WorkerEntry): Promise<void> {
    if (entry.done) return;
    entry.done = true;
    await this.#quit(entry.connection);
    this.#workers.delete(entry);
    entry.markClosed();
  }

  async #subscribe(channel: string, handler: (message: string) => void, context: string): Promise<Unsubscribe> {
    this.#assertOpen();
    // A wrapper per subscription, so one handler subscribed twice is two subscriptions.
    const receiver = (message: string): void => {
      try {
        handler(message);
      } catch (error) {
        this.#report(error, context);
      }
    };
    let receivers = this.#subscriptions.get(channel);
    if (!receivers) {
      receivers = new Set();
      this.#subscriptions.set(channel, receivers);
    }
    receivers.add(receiver);
    try {
      // Resolves once Redis confirmed the subscription (or it already was): later messages reach the handler.
      await this.#changeSubscription(channel);
    } catch (error) {
      receivers.delete(receiver);
      throw error;
    }
    return async () => {
      const current = this.#subscriptions.get(channel);
      if (!current?.delete(receiver)) return;
      await this.#changeSubscription(channel);
    };
  }

  /** SUBSCRIBE or UNSUBSCRIBE `channel` so Redis matches whether it has local receivers. */
  #changeSubscription(channel: string): Promise<void> {
    const change = this.#subscriptionChanges.then(async () => {
      if (this.#closed) return;
      const wanted = (this.#subscriptions.get(channel)?.size ?? 0) > 0;
      const subscribed = this.#subscribed.has(channel);
      if (wanted === subscribed) return;
      const subscriber = this.#subscriber ?? this.#openSubscriber();
      if (wanted) {
        await subscriber.subscribe(channel);
        this.#subscribed.add(channel);
      } else {
        this.#subscribed.delete(channel);
        await subscriber.unsubscribe(channel);
      }
    });
    this.#subscriptionChanges = change.catch(() => undefined);
    return change;
  }

  #openSubscriber(): Redis {
    const subscriber = this.#connect('subscriber connection');
    subscriber.on('message', (channel: string, message: string) => {
      for (const receiver of this.#subscriptions.get(channel) ?? []) receiver(message);
    });
    this.#subscriber = subscriber;
    return subscriber;
  }

  async #settle(promise: Promise<unknown>, context: string): Promise<void> {
    try {
      await promise;
    } catch (error) {
      this.#report(error, context);
    }
  }

  #report(error: unknown, context: string): void {
    try {
      this.#onError(error, context);
    } catch {
      // An onError that throws must not break the driver.
    }
  }
}

/**
 * An execution update as its message's text. An `executionJson` is put in as the `execution` member as it is, not
 * parsed and serialized again (the update always has members before it: `executionId`, `state`, `ended`).
 */
function updateMessage(update: ExecutionUpdate): string {
  const { executionJson, ...rest } = update;
  if (executionJson === undefined) return JSON.stringify(rest);
  const { execution: _replaced, ...others } = rest;
  const head = JSON.stringify(others);
  return head === '{}' ? `{"execution":${executionJson}}` : `${head.slice(0, -1)},"execution":${executionJson}}`;
}

/** An error's message, or its code when it has none (a Node `AggregateError` of refused connections). */
function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return error.message || (typeof code === 'string' ? code : error.name);
  }
  return String(error);
}

/** The BullMQ queue driver (kind `bullmq`): see {@link BullmqQueue}. */
export function createBullmqQueue(options: BullmqQueueOptions): QueueDriver {
  return new BullmqQueue(options);
}
