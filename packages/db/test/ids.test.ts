import { describe, expect, it } from 'vitest';
import { ID_ALPHABET, ID_LENGTH } from '@sluice/core';
import { newExecutionId, newTaskRunId, randomBase62 } from '@sluice/db';

describe('ids', () => {
  it('makes 22 characters of [0-9A-Za-z], all different', () => {
    const ids = [...Array.from({ length: 5000 }, () => newExecutionId()), ...Array.from({ length: 5000 }, () => newTaskRunId())];
    expect(ID_LENGTH).toBe(22);
    for (const id of ids) expect(id).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws each character uniformly, across many refills of its pool of random bytes', () => {
    // 620,000 characters (about 160 refills of 4 KiB): each of the 62 expected 10,000 times, standard deviation
    // about 99. A byte % 62 without drawing 248..255 again would give 0-7 about 10,300 times each.
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) for (const c of randomBase62(31)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect([...counts.keys()].sort().join('')).toBe([...ID_ALPHABET].sort().join(''));
    for (const [c, n] of counts) expect({ c, n, far: Math.abs(n - 10_000) > 600 }).toEqual({ c, n, far: false });
  });

  it('makes ids of any length asked', () => {
    expect(randomBase62(0)).toBe('');
    expect(randomBase62(1)).toMatch(/^[0-9A-Za-z]$/);
    expect(randomBase62(5000)).toHaveLength(5000);
  });
});
