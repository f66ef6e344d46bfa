import { describe, expect, it } from 'vitest';
import { flowLabels, mergeLabels, walkTasks } from './model.js';
import type { TaskSpec } from './model.js';

describe('flow model helpers', () => {
  it('reads labels written as a map or a list', () => {
    expect(flowLabels({})).toEqual([]);
    expect(flowLabels({ labels: { team: 'data', tier: '1' } })).toEqual([{ key: 'team', value: 'data' }, { key: 'tier', value: '1' }]);
    expect(flowLabels({ labels: [{ key: 'team', value: 'data' }] })).toEqual([{ key: 'team', value: 'data' }]);
  });

  it('merges label lists: a later label replaces an earlier one of the same key, which keeps its place', () => {
    const flow = [{ key: 'team', value: 'data' }, { key: 'env', value: 'dev' }];
    expect(mergeLabels(flow, [{ key: 'env', value: 'prod' }, { key: 'run', value: '42' }], [])).toEqual([
      { key: 'team', value: 'data' },
      { key: 'env', value: 'prod' },
      { key: 'run', value: '42' },
    ]);
    expect(mergeLabels()).toEqual([]);
  });

  it('walks nested tasks depth first with their parent ids', () => {
    const tasks: TaskSpec[] = [
      { id: 'a', type: 'x' },
      { id: 'w', type: 'group', tasks: [{ id: 'b', type: 'x' }, { id: 'c', type: 'x' }] },
      { id: 'd', type: 'x' },
    ];
    const seen = [...walkTasks(tasks, (t) => (t.type === 'group' ? ['tasks'] : []))].map(({ task, parentId }) => `${parentId ?? '-'}>${task.id}`);
    expect(seen).toEqual(['->a', '->w', 'w>b', 'w>c', '->d']);
  });
});
