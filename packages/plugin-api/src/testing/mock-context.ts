/**
 * A TaskContext for unit tests of tasks (as Temporal's MockActivityEnvironment): real rendering with the sandboxed
 * expression engine, logs and metrics captured in arrays, storage in a local folder, runners from a map. It does
 * no secret masking, no reporting and no child scheduling beyond running `runChild` tasks in order through the
 * given definitions: the worker runtime does the real thing.
 */
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { evaluateExpression, renderValue, SluiceError } from '@sluice/core';
import type { LogLevel, TaskSpec } from '@sluice/core';
import type { ChildOutcome, KvAccess, MetricEntry, Runner, RunnerDefinition, TaskContext, TaskDefinition } from '../contracts.js';
import { Registry } from '../registry.js';

export interface MockContextOptions {
  /** An existing directory; default a new temp dir. */
  readonly workingDirectory?: string;
  /** Variables for `render` (`inputs`, `outputs`, `vars`, ...). */
  readonly variables?: Record<string, unknown>;
  /** Plain secret values by name, for `secret('NAME')`. */
  readonly secrets?: Record<string, string>;
  /**
   * Runner instances by canonical type (`io.kestra.plugin.core.runner.Process`, ...), case-insensitive, with the
   * definitions `selectRunner` resolves `runner: PROCESS` / `taskRunner` against.
   */
  readonly runners?: Record<string, Runner>;
  readonly runnerDefinitions?: readonly RunnerDefinition[];
  /** Task definitions for `runChild`, by type (case-insensitive). */
  readonly tasks?: readonly TaskDefinition[];
  readonly signal?: AbortSignal;
  readonly taskId?: string;
  /** The KV store as `context.kv` (e.g. `createMemoryKvStore()`); absent by default. */
  readonly kv?: KvAccess;
}

export interface MockTaskContext extends TaskContext {
  readonly logs: { level: LogLevel; message: string }[];
  readonly metrics: MetricEntry[];
  /** Stored files: URI → local copy. */
  readonly stored: Map<string, string>;
}

export async function createMockTaskContext(options: MockContextOptions = {}): Promise<MockTaskContext> {
  const workingDirectory = options.workingDirectory ?? (await mkdtemp(join(tmpdir(), 'sluice-task-')));
  // Created on first upload only, inside the working directory's parent temp area, so contexts that store nothing
  // leave nothing behind.
  let storageDir: string | undefined;
  const taskId = options.taskId ?? 'task';
  const logs: { level: LogLevel; message: string }[] = [];
  const metrics: MetricEntry[] = [];
  const stored = new Map<string, string>();
  const secrets = options.secrets ?? {};
  const runners = new Map(Object.entries(options.runners ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const log = (level: LogLevel) => (message: string) => logs.push({ level, message });

  const renderOptions = {
    functions: {
      secret: ([name]: unknown[]) => {
        const value = secrets[String(name)];
        if (value === undefined) throw new SluiceError('SLU_EXPR_FUNCTION_FAILED', { name: 'secret', reason: `no secret named ${String(name)}` });
        return value;
      },
    },
  };

  const context: MockTaskContext = {
    execution: { id: 'exec1', namespace: 'dev', flowId: 'flow', flowRevision: 1 },
    taskRun: { id: `${taskId}-run`, taskId, attempt: 1 },
    workingDirectory,
    signal: options.signal ?? new AbortController().signal,
    logger: { log: (level, message) => logs.push({ level, message }), debug: log('DEBUG'), info: log('INFO'), warn: log('WARN'), error: log('ERROR') },
    storage: {
      async putFile(localPath, name) {
        if (name.startsWith('/') || name.split('/').includes('..')) throw new SluiceError('SLU_TASK_INVALID_PATH', { path: name });
        const uri = `kestra:///dev/flow/executions/exec1/tasks/${taskId}/${taskId}-run/${name}`;
        storageDir ??= await mkdtemp(join(tmpdir(), 'sluice-storage-'));
        const copy = join(storageDir, String(stored.size), name);
        await mkdir(dirname(copy), { recursive: true });
        await copyFile(localPath, copy);
        stored.set(uri, copy);
        return uri;
      },
      async getFile(uri, localPath) {
        const copy = stored.get(uri);
        if (!copy) throw new SluiceError('SLU_STORAGE_NOT_FOUND', { uri });
        await mkdir(dirname(localPath), { recursive: true });
        await copyFile(copy, localPath);
      },
    },
    runners: {
      definitions: new Registry<RunnerDefinition>('runner').registerAll(options.runnerDefinitions ?? []),
      get(type) {
        const runner = runners.get(type.toLowerCase());
        if (!runner) throw new SluiceError('SLU_PLUGIN_UNKNOWN_TYPE', { kind: 'runner', type, suggestion: '' });
        return runner;
      },
    },
    render: <V>(value: V) => renderValue(value, options.variables ?? {}, renderOptions) as Promise<V>,
    renderTyped: (value) =>
      typeof value === 'string' && /^\s*\{\{/.test(value) ? evaluateExpression(value, options.variables ?? {}, renderOptions) : renderValue(value, options.variables ?? {}, renderOptions),
    ...(options.kv ? { kv: options.kv } : {}),
    metric: (entry) => metrics.push(entry),
    logs,
    metrics,
    stored,
  };
  if (options.tasks) {
    const definitions = new Map(options.tasks.flatMap((d) => [d.type, ...(d.aliases ?? [])].map((n) => [n.toLowerCase(), d] as const)));
    (context as { runChild?: (task: TaskSpec) => Promise<ChildOutcome> }).runChild = async (task) => {
      const definition = definitions.get(task.type.toLowerCase());
      if (!definition?.run) throw new SluiceError('SLU_PLUGIN_UNKNOWN_TYPE', { kind: 'task', type: task.type, suggestion: '' });
      const child = await createMockTaskContext({ ...options, workingDirectory, taskId: task.id });
      try {
        const result = await definition.run(task, child);
        logs.push(...child.logs);
        return { taskId: task.id, state: result.state ?? 'SUCCESS', ...(result.outputs ? { outputs: result.outputs } : {}) };
      } catch (error) {
        logs.push(...child.logs);
        return { taskId: task.id, state: 'FAILED', error: error instanceof Error ? error : new Error(String(error)) };
      }
    };
  }
  return context;
}
