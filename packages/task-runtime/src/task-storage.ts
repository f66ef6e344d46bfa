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
export function assertExecutionUri(scope: Omit<TaskRunScope, 'taskId' | 'taskRunId'>, uri: string): string {
  const canonical = formatStorageUri(parseStorageUri(uri));
  if (!canonical.startsWith(executionPrefixUri(scope))) {
    throw new SluiceError('SLU_STORAGE_INVALID_URI', {
      uri,
      reason: `a task can only read files of its own execution (${executionPrefixUri(scope)}...)`,
    });
  }
  return canonical;
}

/**
 * The internal storage bound to one task run: files go to `.../tasks/{taskId}/{taskRunId}/{name}`, and only the
 * execution's own files can be read back. Both directions stream.
 */
export function createTaskStorage(storage: Storage, scope: TaskRunScope): TaskStorage {
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
