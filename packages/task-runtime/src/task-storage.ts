import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SluiceError } from '@sluice/core';
import type { TaskStorage } from '@sluice/plugin-api';
import { executionPrefixUri, formatStorageUri, parseStorageUri, taskRunFileUri, type Storage, type TaskRunScope } from '@sluice/storage';

/**
 * Check that a URI a task reads lies inside its own execution's folder, as Kestra's `read()` does: a flow cannot
 * fetch another execution's (or another namespace's) files by guessing URIs. Returns the canonical URI.
 *
 * @throws SluiceError `SLU_STORAGE_INVALID_URI` for a malformed URI or one outside the execution.
 */
export function assertExecutionUri(scope: ReadScope, uri: string): string {
  const canonical = formatStorageUri(parseStorageUri(uri));
  if (canonical.startsWith(executionPrefixUri(scope))) return canonical;
  // A subflow's child (Subflow, ForEachItem) reads the files its parent hands it, as in Kestra: `{{ taskrun.items }}`.
  if (scope.parent && canonical.startsWith(executionPrefixUri(scope.parent))) return canonical;
  throw new SluiceError('SLU_STORAGE_INVALID_URI', {
    uri,
    reason: `a task can only read files of its own execution (${executionPrefixUri(scope)}...)${scope.parent ? ` or of the execution that started it (${executionPrefixUri(scope.parent)}...)` : ''}`,
  });
}

/** What a task may read: its execution's files, and those of the execution that started it as a subflow, if any. */
export type ReadScope = Omit<TaskRunScope, 'taskId' | 'taskRunId'> & { readonly parent?: Omit<TaskRunScope, 'taskId' | 'taskRunId'> };

/**
 * The execution that started this one as a subflow (Subflow or ForEachItem), from its `trigger` variables (which the
 * scheduler wrote): its files are readable too.
 */
export function parentScope(trigger: unknown): ReadScope['parent'] {
  if (typeof trigger !== 'object' || trigger === null) return undefined;
  const { executionId, namespace, flowId } = trigger as Record<string, unknown>;
  if (typeof executionId !== 'string' || typeof namespace !== 'string' || typeof flowId !== 'string') return undefined;
  return { executionId, namespace, flowId };
}

/**
 * The internal storage bound to one task run: files go to `.../tasks/{taskId}/{taskRunId}/{name}`, and only the
 * execution's own files can be read back. Both directions stream.
 */
export function createTaskStorage(storage: Storage, scope: TaskRunScope & Pick<ReadScope, 'parent'>): TaskStorage {
  return {
    async putFile(localPath: string, name: string): Promise<string> {
      const uri = taskRunFileUri(scope, name);
      await storage.put(uri, createReadStream(localPath));
      return uri;
    },
    async getFile(uri: string, localPath: string): Promise<void> {
      const source = await storage.get(assertExecutionUri(scope, uri));
      try {
        await mkdir(dirname(localPath), { recursive: true });
      } catch (error) {
        source.destroy();
        throw error;
      }
      await pipeline(source, createWriteStream(localPath));
    },
  };
}
