import { describe, expect, it } from 'vitest';
import { parseMarker } from '../src/output-markers.js';

const marker = (value: unknown): string => `::${JSON.stringify(value)}::`;

describe('parseMarker metrics', () => {
  it('keeps counters, timers and gauges, with their tags as text', () => {
    const parsed = parseMarker(
      marker({
        metrics: [
          { name: 'rows', type: 'counter', value: 3, tags: { table: 'orders', shard: 2 } },
          { name: 'load', type: 'timer', value: 1.25 },
          { name: 'queue.depth', type: 'gauge', value: '42.5', tags: { region: 'eu' } },
        ],
      }),
    );
    expect(parsed?.metrics).toEqual([
      { name: 'rows', type: 'counter', value: 3, tags: { table: 'orders', shard: '2' } },
      { name: 'load', type: 'timer', value: 1.25 },
      { name: 'queue.depth', type: 'gauge', value: 42.5, tags: { region: 'eu' } },
    ]);
  });

  it('drops an entry of an unknown type, without a name, or without a finite value, and keeps the others', () => {
    const parsed = parseMarker(
      marker({
        metrics: [
          { name: 'h', type: 'histogram', value: 1 },
          { name: 'g', type: 'GAUGE', value: 1 },
          { type: 'gauge', value: 1 },
          { name: 'nan', type: 'gauge', value: 'many' },
          { name: 'none', type: 'counter' },
          'gauge',
          { name: 'zero', type: 'gauge', value: 0 },
          { name: 'negative', type: 'gauge', value: -2.5 },
        ],
      }),
    );
    expect(parsed?.metrics).toEqual([
      { name: 'zero', type: 'gauge', value: 0 },
      { name: 'negative', type: 'gauge', value: -2.5 },
    ]);
  });

  it('a line with outputs only has no metrics; metrics that are not a list are none', () => {
    expect(parseMarker(marker({ outputs: { a: 1 } }))).toEqual({ outputs: { a: 1 }, metrics: [], logs: [] });
    expect(parseMarker(marker({ metrics: { name: 'x', type: 'gauge', value: 1 } }))?.metrics).toEqual([]);
  });
});
