/**
 * Kestra-style ids of executions and task runs: 22 characters of `[0-9A-Za-z]`, each uniformly random (about 131
 * bits). The random bytes come from a pool refilled 4 KiB at a time (as Node's `randomUUID` keeps its own): one
 * `randomBytes` call per id cost about 20 µs of the API's CPU per execution, most of it the call itself, and the
 * BigInt arithmetic of the base-62 conversion the rest (issue #20's ninth pass).
 */
import { randomFillSync } from 'node:crypto';
import { ID_ALPHABET, ID_LENGTH } from '@sluice/core';

const pool = Buffer.allocUnsafe(4096);
let next = pool.length;

/** `length` characters of {@link ID_ALPHABET}, each uniformly random: bytes of 248 and above are drawn again. */
export function randomBase62(length: number): string {
  let id = '';
  while (id.length < length) {
    if (next === pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    const byte = pool[next++] as number;
    // 248 = 4 × 62: below it, byte % 62 takes each of the 62 values equally often.
    if (byte < 248) id += ID_ALPHABET[byte % 62];
  }
  return id;
}

/** A new execution id. */
export function newExecutionId(): string {
  return randomBase62(ID_LENGTH);
}

/** A new task run id. */
export function newTaskRunId(): string {
  return randomBase62(ID_LENGTH);
}
