import { describe, expect, it } from 'vitest';
import { buildFlowGraph } from '@sluice/engine';
import { layoutGraph } from '../src/components/topology/layout.js';
import { diffLines, foldUnchanged } from '../src/components/textDiff.js';
import type { FlowGraph } from '../src/types.js';
import { attributeValues, useUi } from './browser.js';

// The flow page in a real browser: its tabs by deep link (topology, revisions, triggers, overview), the revisions
// diff, enabling and disabling a trigger, and a flow that does not exist.
const NS = 'uiflow.page';

const branching = (message: string): string =>
  [
    'id: branching',
    `namespace: ${NS}`,
    'description: Checks then branches',
    'labels:',
    '  team: data',
    'tasks:',
    '  - id: first',
    '    type: io.kestra.plugin.core.log.Log',
    `    message: ${message}`,
    '  - id: decide',
    '    type: io.kestra.plugin.core.flow.If',
    '    condition: "{{ true }}"',
    '    then:',
    '      - id: on_yes',
    '        type: io.kestra.plugin.core.log.Log',
    '        message: then branch',
    '    else:',
    '      - id: on_no',
    '        type: io.kestra.plugin.core.log.Log',
    '        message: else branch',
    'errors:',
    '  - id: alert',
    '    type: io.kestra.plugin.core.log.Log',
    '    message: failed',
  ].join('\n');

const scheduled = [
  'id: scheduled',
  `namespace: ${NS}`,
  'tasks:',
  '  - id: tick',
  '    type: io.kestra.plugin.core.log.Log',
  '    message: tick',
  'triggers:',
  '  - id: yearly',
  '    type: io.kestra.plugin.core.trigger.Schedule',
  '    cron: "0 0 1 1 *"',
].join('\n');

interface TriggerSearch {
  results: { triggerContext: { triggerId: string; disabled: boolean } }[];
}

describe('the flow page', () => {
  const ui = useUi();

  it('opens the topology tab by deep link and draws every task, the branches and the errors', async () => {
    await ui.stack.deploy(branching('hello'));
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/branching/topology`));
    const nodes = page.getByTestId('topology-node');
    await expect
      .poll(async () => (await attributeValues(nodes, 'data-task-id')).sort(), { timeout: 20_000 })
      .toEqual(['alert', 'decide', 'first', 'on_no', 'on_yes']);
    expect(await page.locator('[role="tab"][aria-selected="true"]').textContent()).toBe('Topology');
    // The If's branches are named on their edges; the flowable and the errors branch are group boxes.
    await page.locator('.react-flow__edge-text', { hasText: 'then' }).waitFor();
    await page.locator('.react-flow__edge-text', { hasText: 'else' }).waitFor();
    await page.locator('[data-testid="topology-group"][data-task-id="decide"]').waitFor();
    await page.locator('[data-testid="topology-group"][data-group="errors"]').waitFor();
    expect(await page.locator('[data-task-id="first"]').textContent()).toContain('Log');

    // A task clicked shows its declaration, its id in the URL.
    await page.locator('[data-testid="topology-node"][data-task-id="on_yes"]').click();
    await page.getByTestId('task-panel').getByText('io.kestra.plugin.core.log.Log').first().waitFor();
    expect(new URL(page.url()).searchParams.get('task')).toBe('on_yes');

    // The header: the flow's name, description, labels, revision, and the Execute link.
    expect(await page.getByTestId('flow-title').textContent()).toBe('branching');
    await page.getByText('Checks then branches').waitFor();
    expect(await page.getByTestId('flow-revision').textContent()).toContain('1');
    expect(await page.getByTestId('execute-flow').getAttribute('href')).toBe(`/ui/flows/${NS}/branching/execute`);
  });

  it('diffs two revisions, previous against latest by default, both in the URL', async () => {
    await ui.stack.deploy(branching('hello'));
    await ui.stack.deploy(branching('hello again'));
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/branching/revisions`));
    const diff = page.getByTestId('line-diff');
    await diff.waitFor();
    const added = diff.locator('tr[data-diff="add"]');
    const removed = diff.locator('tr[data-diff="del"]');
    await expect.poll(() => added.allTextContents()).toEqual([expect.stringContaining('message: hello again')]);
    expect(await removed.allTextContents()).toEqual([expect.stringMatching(/message: hello$/)]);
    expect(await page.getByTestId('diff-from').inputValue()).toBe('1');
    expect(await page.getByTestId('diff-to').inputValue()).toBe('2');

    // Swapping the revisions: the URL holds both, a reload keeps them, the change reads the other way.
    await page.getByRole('button', { name: 'Swap from and to' }).click();
    await expect.poll(() => new URL(page.url()).search).toContain('from=2');
    expect(new URL(page.url()).searchParams.get('to')).toBe('1');
    await page.reload();
    await expect.poll(() => added.allTextContents()).toEqual([expect.stringMatching(/message: hello$/)]);

    // Side by side: the changed line marked on both sides.
    await page.goto(ui.url(`/flows/${NS}/branching/revisions?from=1&to=2&view=split`));
    await expect.poll(() => diff.locator('td[data-diff="add"]').allTextContents()).toEqual([expect.stringContaining('message: hello again')]);
  });

  it('disables and enables a Schedule trigger', async () => {
    await ui.stack.deploy(scheduled);
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/scheduled/triggers`));
    const row = page.locator('[data-testid="trigger-row"][data-trigger="yearly"]');
    await expect.poll(() => row.getByTestId('trigger-state').textContent()).toBe('enabled');
    expect(await row.textContent()).toContain('0 0 1 1 *');

    await row.getByRole('button', { name: 'Disable trigger yearly' }).click();
    await expect.poll(() => row.getByTestId('trigger-state').textContent()).toBe('disabled');
    const stored = async (): Promise<boolean | undefined> => {
      const response = await ui.stack.api(`/api/v1/triggers/search?filters[namespace][EQUALS]=${NS}&filters[flowId][EQUALS]=scheduled`);
      const body = (await response.json()) as TriggerSearch;
      return body.results.find((r) => r.triggerContext.triggerId === 'yearly')?.triggerContext.disabled;
    };
    expect(await stored()).toBe(true);
    await page.reload();
    await expect.poll(() => row.getByTestId('trigger-state').textContent()).toBe('disabled');

    await row.getByRole('button', { name: 'Enable trigger yearly' }).click();
    await expect.poll(() => row.getByTestId('trigger-state').textContent()).toBe('enabled');
    expect(await stored()).toBe(false);
  });

  it('shows what to add when the flow has no trigger', async () => {
    await ui.stack.deploy(branching('hello again'));
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/branching/triggers`));
    await page.getByText('This flow has no trigger').waitFor();
    expect(await page.getByTestId('trigger-snippet').textContent()).toContain('io.kestra.plugin.core.trigger.Schedule');
  });

  it('overview: an empty state before the first run, then the executions and the success rate', async () => {
    await ui.stack.deploy(scheduled);
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/scheduled`));
    await page.getByTestId('overview-empty').getByText('This flow never ran').waitFor();

    const execution = await ui.stack.execute(NS, 'scheduled', { wait: true });
    expect(execution.state.current).toBe('SUCCESS');
    await page.reload();
    const last = page.getByTestId('last-executions');
    await last.getByRole('link', { name: execution.id }).waitFor();
    expect(await last.textContent()).toContain('SUCCESS');
    await expect.poll(() => page.getByTestId('success-rate').textContent()).toContain('100%');
    // Today's bar counts it.
    await expect.poll(() => page.locator('[data-testid="executions-chart"] .bars-day').last().getAttribute('data-total')).toBe('1');
  });

  it('says readably that a flow does not exist', async () => {
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/does-not-exist`));
    const error = page.getByTestId('flow-error');
    await error.getByText('Flow not found').waitFor();
    expect(await error.textContent()).toContain('There is no flow does-not-exist in namespace uiflow.page');
    await error.getByRole('link', { name: 'All flows' }).click();
    await page.waitForURL(/\/ui\/flows$/);
  });

  it('an unknown tab says so', async () => {
    await ui.stack.deploy(scheduled);
    const page = await ui.page();
    await page.goto(ui.url(`/flows/${NS}/scheduled/nonsense`));
    await page.getByText('No tab named “nonsense”').waitFor();
  });
});

describe('the line diff', () => {
  /** The longest common subsequence's length, by dynamic programming: what a shortest edit script keeps. */
  const lcs = (a: string[], b: string[]): number => {
    const row = new Array<number>(b.length + 1).fill(0);
    for (const x of a) {
      let diagonal = 0;
      for (let j = 1; j <= b.length; j++) {
        const above = row[j]!;
        row[j] = x === b[j - 1] ? diagonal + 1 : Math.max(row[j]!, row[j - 1]!);
        diagonal = above;
      }
    }
    return row[b.length]!;
  };

  it('marks the changed line and numbers both sides', () => {
    const lines = diffLines('a\nb\nc\n', 'a\nB\nc\nd\n');
    expect(lines.map((l) => [l.kind, l.text, l.oldLine, l.newLine])).toEqual([
      ['same', 'a', 1, 1],
      ['del', 'b', 2, undefined],
      ['add', 'B', undefined, 2],
      ['same', 'c', 3, 3],
      ['add', 'd', undefined, 4],
    ]);
    expect(diffLines('', 'x').map((l) => l.kind)).toEqual(['add']);
    expect(diffLines('x\ny', '').map((l) => l.kind)).toEqual(['del', 'del']);
    expect(diffLines('same\n', 'same\n').every((l) => l.kind === 'same')).toBe(true);
  });

  it('finds a shortest edit script that rebuilds both texts (random texts)', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const a = Array.from({ length: random(14) }, () => 'abcd'[random(4)]!);
      const b = Array.from({ length: random(14) }, () => 'abcd'[random(4)]!);
      const lines = diffLines(a.join('\n'), b.join('\n'));
      expect(lines.filter((l) => l.kind !== 'add').map((l) => l.text)).toEqual(a);
      expect(lines.filter((l) => l.kind !== 'del').map((l) => l.text)).toEqual(b);
      expect(lines.filter((l) => l.kind === 'same')).toHaveLength(lcs(a, b));
    }
  });

  it('folds long unchanged runs, keeping the context around changes', () => {
    const before = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
    const after = before.replace('line 15', 'LINE 15');
    const blocks = foldUnchanged(diffLines(before, after), 3);
    expect(blocks.map((b) => [b.type, b.lines.length])).toEqual([
      ['fold', 12],
      ['lines', 8],
      ['fold', 11],
    ]);
  });
});

describe('the topology layout', () => {
  const log = (id: string): Record<string, unknown> => ({ id, type: 'io.kestra.plugin.core.log.Log', message: id });

  it('boxes the flowables, the errors and finally branches, and names CHOICE edges', () => {
    const graph = buildFlowGraph({
      tasks: [
        log('a'),
        { id: 'seq', type: 'io.kestra.plugin.core.flow.Sequential', tasks: [log('s1')], errors: [log('s_err')] },
        { id: 'check', type: 'io.kestra.plugin.core.flow.If', condition: '{{ true }}', then: [log('yes')], else: [log('no')] },
      ],
      errors: [log('alert')],
      finally: [log('cleanup')],
      triggers: [{ id: 'daily', type: 'io.kestra.plugin.core.trigger.Schedule', cron: '0 0 * * *' }],
    } as never) as unknown as FlowGraph;
    const layout = layoutGraph(graph, 'TB');
    const byId = new Map(layout.nodes.map((n) => [n.id, n]));
    const groupOf = (taskId: string): string | undefined => {
      const node = layout.nodes.find((n) => n.data.kind === 'task' && n.data.taskId === taskId);
      const parent = node?.parentId ? byId.get(node.parentId) : undefined;
      return parent ? `${parent.data.variant}:${parent.data.label}` : undefined;
    };
    expect(groupOf('a')).toBeUndefined();
    expect(groupOf('s1')).toBe('cluster:seq');
    expect(groupOf('s_err')).toBe('errors:errors');
    expect(groupOf('yes')).toBe('cluster:check');
    expect(groupOf('alert')).toBe('errors:errors');
    expect(groupOf('cleanup')).toBe('finally:finally');
    expect(layout.nodes.some((n) => n.data.kind === 'trigger' && n.data.label === 'daily')).toBe(true);
    expect(layout.edges.flatMap((e) => (typeof e.label === 'string' ? [e.label] : [])).sort()).toEqual(['else', 'then']);
    // Parents come before their children, as React Flow needs; every task is placed.
    const seen = new Set<string>();
    for (const node of layout.nodes) {
      if (node.parentId) expect(seen.has(node.parentId)).toBe(true);
      seen.add(node.id);
    }
    expect(layout.nodes.filter((n) => n.data.kind === 'task').map((n) => n.data.taskId).sort()).toEqual(['a', 'alert', 'check', 'cleanup', 'no', 's1', 's_err', 'seq', 'yes']);
  });

  it('lays out 200 tasks', () => {
    const graph = buildFlowGraph({ tasks: Array.from({ length: 200 }, (_, i) => log(`t${i}`)) } as never) as unknown as FlowGraph;
    const layout = layoutGraph(graph, 'LR');
    expect(layout.nodes.filter((n) => n.data.kind === 'task')).toHaveLength(200);
    const xs = layout.nodes.filter((n) => n.data.kind === 'task').map((n) => n.position.x);
    expect(new Set(xs).size).toBe(200);
  }, 60_000);
});
