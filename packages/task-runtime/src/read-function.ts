import { SluiceError } from '@sluice/core';
import type { Storage } from '@sluice/storage';
import { assertExecutionUri } from './task-storage.js';
import type { ReadScope } from './task-storage.js';

/** `read()` refuses larger files: its result lands in a rendered property, in memory. */
export const DEFAULT_READ_MAX_BYTES = 10 * 1024 * 1024;

function failed(reason: string): SluiceError {
  return new SluiceError('SLU_EXPR_FUNCTION_FAILED', { name: 'read', reason });
}

/**
 * `read(uri)`: a file of the current execution as UTF-8 text, at most `maxBytes`. It leaves out Kestra's
 * namespace files (`read('path/in/namespace.txt')`): only `kestra:///` URIs are read.
 *
 * @throws SluiceError `SLU_STORAGE_INVALID_URI` (malformed, or outside the execution), `SLU_STORAGE_NOT_FOUND`,
 *   `SLU_EXPR_FUNCTION_FAILED` `{name: 'read'}` for a non-string argument or a file over the limit.
 */
export async function readText(storage: Storage, scope: ReadScope, uri: unknown, maxBytes: number): Promise<string> {
  if (typeof uri !== 'string') throw failed('expects a kestra:/// URI (a string)');
  const canonical = assertExecutionUri(scope, uri);
  const tooLarge = (size: number): SluiceError => failed(`${uri} is ${size} bytes or more, larger than the ${maxBytes} bytes read() accepts`);
  const info = await storage.stat(canonical);
  if (!info) throw new SluiceError('SLU_STORAGE_NOT_FOUND', { uri });
  if (info.size > maxBytes) throw tooLarge(info.size);
  // The size is checked again while reading: the file may be replaced in between.
  const stream = await storage.get(canonical);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += buffer.length;
      if (size > maxBytes) throw tooLarge(size);
      chunks.push(buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}
