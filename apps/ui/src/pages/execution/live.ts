/**
 * Live data of the execution page, from the API's follow streams (server-sent events), never by polling:
 *
 * - {@link ExecutionLive}: `GET /executions/{id}/follow` sends the execution at once and on every change, then `end`
 *   with the ended execution. A stream that drops while the execution has not ended is reconnected with a backoff.
 * - {@link LogLive}: `GET /logs/{id}` for the lines that exist, then `GET /logs/{id}/follow` while the execution runs
 *   (the follow sends the stored lines first: `?skip=N` has it leave out the N already held). Lines are appended in batches,
 *   one update per animation frame.
 *
 * Both are shared by every component of the page through a small registry keyed by execution id, and outlive a
 * remount for a few seconds (switching tabs remounts the page: the streams and the lines already read are kept).
 */
import type { QueryClient } from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import { api, ApiError, follow } from '../../api';
import { seg } from '../../router';
import { isTerminal } from '../../types';
import type { Execution, LogLine } from '../../types';

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

/** How long a store with no subscriber keeps its stream open (a tab switch remounts the page). */
const LINGER_MS = 10_000;
const BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000];

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** A client error the same request will answer again (404 unknown execution...): no point reconnecting. */
const isFinal = (error: unknown): boolean => error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429;

abstract class Store<S> {
  private listeners = new Set<() => void>();
  private lingering: ReturnType<typeof setTimeout> | undefined;
  protected abstract snapshot: S;

  /** `onActive`/`onDispose`: the registry adds and drops the store (a disposed store subscribed again is added back). */
  constructor(private readonly registry: { onActive: () => void; onDispose: () => void }) {}

  /** Someone is subscribed. */
  protected get active(): boolean {
    return this.listeners.size > 0;
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.lingering !== undefined) {
      clearTimeout(this.lingering);
      this.lingering = undefined;
    }
    if (this.listeners.size === 1) {
      this.registry.onActive();
      this.activate();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.lingering = setTimeout(() => {
          this.lingering = undefined;
          if (this.listeners.size > 0) return;
          this.dispose();
          this.registry.onDispose();
        }, LINGER_MS);
      }
    };
  };

  readonly getSnapshot = (): S => this.snapshot;

  protected set(changes: Partial<S>): void {
    this.snapshot = { ...this.snapshot, ...changes };
    for (const listener of this.listeners) listener();
  }

  protected abstract activate(): void;
  protected abstract dispose(): void;
}

export interface ExecutionSnapshot {
  readonly execution: Execution | undefined;
  /** Why there is no execution (404...), or why the stream keeps failing. */
  readonly error: unknown;
  readonly status: LiveStatus;
}

export class ExecutionLive extends Store<ExecutionSnapshot> {
  protected snapshot: ExecutionSnapshot;
  private controller: AbortController | undefined;

  constructor(
    readonly id: string,
    private readonly queryClient: QueryClient,
    registry: { onActive: () => void; onDispose: () => void },
  ) {
    super(registry);
    // What the cache holds shows at once; the follow answers with the current execution right after.
    this.snapshot = { execution: queryClient.getQueryData<Execution>(['execution', id]), error: undefined, status: 'connecting' };
  }

  protected activate(): void {
    // An ended execution is not followed again on a remount (an action that restarts it calls `update`).
    if (!this.controller && this.snapshot.status !== 'failed' && this.snapshot.status !== 'ended') this.start();
  }

  protected dispose(): void {
    this.controller?.abort();
    this.controller = undefined;
  }

  /** Show `execution` (an action's answer) and follow again if the stream had ended (a restarted execution runs). */
  update(execution?: Execution): void {
    if (execution && execution.id === this.id) this.accept(execution, this.snapshot.status);
    if (!this.controller && this.active) this.start();
  }

  private accept(execution: Execution, status: LiveStatus): void {
    this.queryClient.setQueryData(['execution', this.id], execution);
    this.set({ execution, status, error: undefined });
  }

  private start(): void {
    const controller = new AbortController();
    this.controller = controller;
    if (this.snapshot.status === 'failed') this.set({ status: 'connecting', error: undefined });
    void this.run(controller.signal).finally(() => {
      if (this.controller === controller) this.controller = undefined;
    });
  }

  private async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      let ended = false;
      try {
        await follow(
          `/executions/${seg(this.id)}/follow`,
          (event) => {
            if (!event.data) return;
            let execution: Execution;
            try {
              execution = JSON.parse(event.data) as Execution;
            } catch {
              return;
            }
            attempt = 0;
            ended = event.id === 'end' || isTerminal(execution.state.current);
            this.accept(execution, ended ? 'ended' : 'live');
          },
          signal,
        );
        if (ended || signal.aborted) return;
        // The stream closed without its end (the server restarted...): reconnect.
      } catch (error) {
        if (signal.aborted) return;
        if (isFinal(error)) {
          this.set({ error, status: 'failed' });
          return;
        }
        this.set({ error });
      }
      this.set({ status: 'reconnecting' });
      await sleep(BACKOFF_MS[Math.min(attempt++, BACKOFF_MS.length - 1)]!, signal);
    }
  }
}

export interface LogSnapshot {
  /** Bumped on every change of `lines` (which is appended to in place). */
  readonly version: number;
  readonly loaded: boolean;
  readonly error: unknown;
  readonly status: LiveStatus | 'idle';
}

export class LogLive extends Store<LogSnapshot> {
  protected snapshot: LogSnapshot = { version: 0, loaded: false, error: undefined, status: 'idle' };
  /** Every line read, oldest first; appended in place (read `version` to know it changed). */
  readonly lines: LogLine[] = [];
  private pending: LogLine[] = [];
  private frame: number | undefined;
  private fallback: ReturnType<typeof setTimeout> | undefined;
  private loading: AbortController | undefined;
  private following: AbortController | undefined;
  private running = false;

  constructor(
    readonly id: string,
    registry: { onActive: () => void; onDispose: () => void },
  ) {
    super(registry);
  }

  protected activate(): void {
    if (!this.snapshot.loaded && !this.loading) void this.load();
    else if (this.running && !this.following) this.startFollow();
  }

  protected dispose(): void {
    this.loading?.abort();
    this.following?.abort();
    this.loading = undefined;
    this.following = undefined;
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    if (this.fallback !== undefined) clearTimeout(this.fallback);
  }

  /** Whether the execution runs: the follow runs while it does (and starts again when a restart makes it run). */
  setRunning(running: boolean): void {
    this.running = running;
    if (running && this.active && this.snapshot.loaded && !this.following) this.startFollow();
  }

  /** Load again from scratch (after an error). */
  retry(): void {
    if (this.loading) return;
    this.set({ error: undefined });
    if (!this.snapshot.loaded) void this.load();
    else if (this.running && !this.following) this.startFollow();
  }

  private async load(): Promise<void> {
    const controller = new AbortController();
    this.loading = controller;
    this.set({ status: 'connecting', error: undefined });
    try {
      const lines = await api<LogLine[]>(`/logs/${seg(this.id)}`, { signal: controller.signal });
      if (controller.signal.aborted) return;
      for (const line of lines) this.lines.push(line);
      this.loading = undefined;
      this.set({ loaded: true, version: this.snapshot.version + 1, status: this.running ? 'connecting' : 'ended' });
      if (this.running) this.startFollow();
    } catch (error) {
      if (controller.signal.aborted) return;
      this.loading = undefined;
      this.set({ error, status: 'failed' });
    }
  }

  private push(line: LogLine): void {
    this.pending.push(line);
    if (this.frame !== undefined) return;
    this.frame = requestAnimationFrame(() => this.flush());
    // A hidden tab runs no animation frame: flush anyway, less often.
    this.fallback = setTimeout(() => this.flush(), 500);
  }

  private flush(): void {
    if (this.frame !== undefined) cancelAnimationFrame(this.frame);
    if (this.fallback !== undefined) clearTimeout(this.fallback);
    this.frame = undefined;
    this.fallback = undefined;
    if (this.pending.length === 0) return;
    for (const line of this.pending) this.lines.push(line);
    this.pending = [];
    this.set({ version: this.snapshot.version + 1 });
  }

  private startFollow(): void {
    const controller = new AbortController();
    this.following = controller;
    void this.follow(controller.signal).finally(() => {
      if (this.following === controller) this.following = undefined;
    });
  }

  private async follow(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      // The follow sends the stored lines first, in order: it leaves out (`skip`) those already held.
      const held = this.lines.length + this.pending.length;
      let ended = false;
      try {
        this.set({ status: 'live' });
        await follow(
          `/logs/${seg(this.id)}/follow${held > 0 ? `?skip=${held}` : ''}`,
          (event) => {
            if (event.id === 'end') ended = true;
            if (!event.data) return;
            attempt = 0;
            try {
              this.push(JSON.parse(event.data) as LogLine);
            } catch {
              // not a log line: ignored
            }
          },
          signal,
        );
        if (signal.aborted) return;
        if (ended) {
          this.flush();
          this.set({ status: 'ended' });
          // Ended while the page still sees it run (restarted meanwhile): follow again shortly.
          if (!this.running) return;
          await sleep(1_000, signal);
          if (!this.running) return;
          continue;
        }
      } catch (error) {
        if (signal.aborted) return;
        if (isFinal(error)) {
          this.set({ error, status: 'failed' });
          return;
        }
      }
      this.set({ status: 'reconnecting' });
      await sleep(BACKOFF_MS[Math.min(attempt++, BACKOFF_MS.length - 1)]!, signal);
    }
  }
}

const executions = new Map<string, ExecutionLive>();
const logs = new Map<string, LogLive>();

function registered<T>(map: Map<string, T>, id: string, create: (registry: { onActive: () => void; onDispose: () => void }) => T): T {
  const existing = map.get(id);
  if (existing) return existing;
  const store: T = create({
    onActive: () => {
      if (!map.has(id)) map.set(id, store);
    },
    onDispose: () => {
      if (map.get(id) === store) map.delete(id);
    },
  });
  map.set(id, store);
  return store;
}

export function executionLive(id: string, queryClient: QueryClient): ExecutionLive {
  return registered(executions, id, (registry) => new ExecutionLive(id, queryClient, registry));
}

export function logLive(id: string): LogLive {
  return registered(logs, id, (registry) => new LogLive(id, registry));
}

/** The live execution: subscribes while mounted. */
export function useExecutionLive(store: ExecutionLive): ExecutionSnapshot {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}

/** The execution's log lines, loaded once `enabled`, followed while `running`. */
export function useLogLive(store: LogLive, running: boolean, enabled = true): LogSnapshot {
  useEffect(() => {
    store.setRunning(running);
  }, [store, running]);
  const subscribe = enabled ? store.subscribe : noSubscribe;
  return useSyncExternalStore(subscribe, store.getSnapshot);
}

const noSubscribe = (): (() => void) => () => undefined;
