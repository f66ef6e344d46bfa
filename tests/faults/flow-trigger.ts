/**
 * Flow triggers fire exactly once per execution end with two schedulers, one of them SIGKILLed in the middle of a burst
 * (issue #18). A fresh cluster of real processes (harness.ts): the API, two schedulers and a worker. 120 executions of
 * an upstream flow are submitted at once; while they end, scheduler 1 is SIGKILLed and a third one started. Then every
 * upstream execution must have started exactly one downstream execution (its `trigger.variables.executionId`), no end
 * may be left untaken, and every downstream execution must end SUCCESS.
 *
 * Registered by faults.fault.ts with the other cases (`SLUICE_FAULTS=flow-trigger` runs it alone).
 */
import pg from 'pg';
import { expect } from 'vitest';
import { Cluster, sleep } from './harness.js';

const UPSTREAM = 120;

export const FLOW_TRIGGER_CASE = { name: 'Flow trigger, two schedulers, one SIGKILLed mid-burst', slug: 'flow-trigger-scheduler-kill' } as const;

interface Execution {
  id: string;
  state: { current: string };
  trigger?: { variables: { executionId?: string } };
}

/** The case: every upstream end starts the downstream flow exactly once. */
export async function flowTriggerExactlyOnce(): Promise<void> {
  {
    const cluster = await Cluster.create({ name: 'flow-trigger-scheduler-kill', queueLockMs: 5000, workerConcurrency: 8 });
    const api = (path: string, init: RequestInit = {}): Promise<Response> => fetch(`${cluster.apiUrl}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    const deploy = async (yaml: string): Promise<void> => {
      const response = await api('/api/v1/main/flows', { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: yaml });
      if (!response.ok) throw new Error(`deploying a flow: ${response.status} ${await response.text()}`);
    };
    /** Every execution of `flowId` (page by page), or undefined while the API cannot answer. */
    const executionsOf = async (flowId: string): Promise<Execution[] | undefined> => {
      const all: Execution[] = [];
      try {
        for (let page = 1; ; page++) {
          const response = await api(`/api/v1/main/executions/search?filters[namespace][EQUALS]=faults&filters[flowId][EQUALS]=${flowId}&size=100&page=${page}&sort=id:asc`);
          if (!response.ok) throw new Error(`searching executions: ${response.status} ${await response.text()}`);
          const { results, total } = (await response.json()) as { results: Execution[]; total: number };
          all.push(...results);
          if (results.length === 0 || all.length >= total) return all;
        }
      } catch (error) {
        // A 4xx is the test's own mistake: say so at once. Anything else (a connection refused) is a fault still on.
        if (error instanceof Error && error.message.startsWith('searching executions: 4')) throw error;
        return undefined;
      }
    };
    try {
      await cluster.pg.start();
      await cluster.redis.start();
      await cluster.startApi().ready();
      const first = cluster.startScheduler('scheduler-1');
      const second = cluster.startScheduler('scheduler-2');
      const worker = await cluster.startWorker();
      await Promise.all([first.ready(), second.ready(), worker.ready()]);

      await deploy(['id: upstream', 'namespace: faults', 'tasks:', '  - id: pause', '    type: io.kestra.plugin.core.flow.Sleep', '    duration: PT0.2S'].join('\n'));
      await deploy(
        [
          'id: downstream',
          'namespace: faults',
          'tasks:',
          '  - id: note',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: "after {{ trigger.executionId }}"',
          'triggers:',
          '  - id: after_upstream',
          '    type: io.kestra.plugin.core.trigger.Flow',
          '    conditions:',
          '      - type: io.kestra.plugin.core.condition.ExecutionFlow',
          '        namespace: faults',
          '        flowId: upstream',
        ].join('\n'),
      );

      const submitted: string[] = [];
      for (let batch = 0; batch < UPSTREAM / 20; batch++) {
        const ids = await Promise.all(
          Array.from({ length: 20 }, async () => {
            const response = await api('/api/v1/main/executions/faults/upstream', { method: 'POST', body: new FormData() });
            if (!response.ok) throw new Error(`submitting: ${response.status} ${await response.text()}`);
            return ((await response.json()) as Execution).id;
          }),
        );
        submitted.push(...ids);
      }

      // SIGKILL scheduler 1 once a few ends have been taken, while most are still to come; start another.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const downstream = await executionsOf('downstream');
        if ((downstream?.length ?? 0) >= 10 || Date.now() > deadline) break;
        await sleep(50);
      }
      await first.kill();
      const third = cluster.startScheduler('scheduler-3');
      await third.ready();

      // Every upstream ends, and every end starts one downstream execution that ends SUCCESS.
      let upstream: Execution[] = [];
      let downstream: Execution[] = [];
      const settle = Date.now() + 180_000;
      while (Date.now() < settle) {
        upstream = (await executionsOf('upstream')) ?? upstream;
        downstream = (await executionsOf('downstream')) ?? downstream;
        const upstreamDone = upstream.length === UPSTREAM && upstream.every((e) => e.state.current === 'SUCCESS');
        const downstreamDone = downstream.length >= UPSTREAM && downstream.every((e) => e.state.current === 'SUCCESS');
        if (upstreamDone && downstreamDone) break;
        await sleep(250);
      }
      // A second start of one end, were there one, would show by now.
      await sleep(2000);
      downstream = (await executionsOf('downstream')) ?? downstream;

      expect(upstream.map((e) => e.state.current)).toEqual(Array.from({ length: UPSTREAM }, () => 'SUCCESS'));
      const triggeredBy = downstream.map((e) => e.trigger?.variables.executionId);
      expect(new Set(triggeredBy).size).toBe(downstream.length);
      expect(new Set(triggeredBy)).toEqual(new Set(submitted));
      expect(downstream).toHaveLength(UPSTREAM);
      expect(downstream.every((e) => e.state.current === 'SUCCESS')).toBe(true);
      const client = new pg.Client({ connectionString: cluster.pg.url });
      await client.connect();
      try {
        expect((await client.query('SELECT count(*)::int AS n FROM execution_ends')).rows[0]).toEqual({ n: 0 });
      } finally {
        await client.end();
      }
    } finally {
      await cluster.stopAll();
      await cluster.remove();
    }
  }
}
