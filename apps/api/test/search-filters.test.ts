/**
 * Kestra 1.x's search filters (`filters[field][OPERATION]=value`), `sort` and paging on the searches of flows,
 * executions, logs and triggers, on Postgres, under both path forms (`/api/v1/...` and `/api/v1/main/...`); and the
 * 400s: an unknown field or operation, an operation the field does not take, a malformed parameter or value, an
 * unknown plain parameter or sort key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiFixture } from './fixture.js';
import { createFlows, startApi } from './fixture.js';

const api = await startApi({ databasePrefix: 'sluice_search' });

const HOUR = 3_600_000;
const now = Date.now();

const FLOWS = [
  'id: alpha\nnamespace: sf.team\nlabels:\n  team: data\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n',
  'id: beta\nnamespace: sf.team\nlabels:\n  - key: env\n    value: prod\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n' +
    'triggers:\n  - id: daily\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "0 0 * * *"\n',
  'id: gamma\nnamespace: sf.team.sub\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n',
  'id: delta\nnamespace: sf.other\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n',
  'id: epsilon\nnamespace: sfx\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n',
];

interface Seeded {
  readonly id: string;
  readonly namespace: string;
  readonly flowId: string;
  readonly state: string;
  readonly labels: { key: string; value: string }[];
  readonly start: Date;
  readonly parent?: string;
}

const EXECUTIONS: Seeded[] = [
  { id: 'sfe1', namespace: 'sf.team', flowId: 'alpha', state: 'SUCCESS', labels: [{ key: 'team', value: 'data' }], start: new Date('2026-01-01T00:00:00.000Z') },
  { id: 'sfe2', namespace: 'sf.team', flowId: 'beta', state: 'FAILED', labels: [{ key: 'team', value: 'ops' }, { key: 'env', value: 'prod' }], start: new Date('2026-01-02T00:00:00.000Z') },
  { id: 'sfe3', namespace: 'sf.team.sub', flowId: 'gamma', state: 'RUNNING', labels: [], start: new Date('2026-01-03T00:00:00.000Z'), parent: 'sfe1' },
  { id: 'sfe4', namespace: 'sf.other', flowId: 'delta', state: 'SUCCESS', labels: [{ key: 'env', value: 'dev' }], start: new Date('2026-01-04T00:00:00.000Z') },
  { id: 'sfe5', namespace: 'sfx', flowId: 'epsilon', state: 'KILLED', labels: [], start: new Date(now - HOUR) },
];

const LOGS = [
  { executionId: 'sfe1', namespace: 'sf.team', flowId: 'alpha', level: 'INFO', message: 'starting alpha', timestamp: new Date('2026-01-01T00:00:01.000Z') },
  { executionId: 'sfe1', namespace: 'sf.team', flowId: 'alpha', level: 'ERROR', message: 'alpha failed: Disk full', timestamp: new Date('2026-01-01T00:00:02.000Z') },
  { executionId: 'sfe2', namespace: 'sf.team', flowId: 'beta', level: 'DEBUG', message: 'beta debug 50%_done', timestamp: new Date('2026-01-02T00:00:01.000Z') },
  { executionId: 'sfe4', namespace: 'sf.other', flowId: 'delta', level: 'WARN', message: 'delta warning', timestamp: new Date('2026-01-04T00:00:01.000Z') },
  { executionId: 'sfe5', namespace: 'sfx', flowId: 'epsilon', level: 'INFO', message: 'recent line', timestamp: new Date(now - HOUR / 2) },
] as const;

describe.skipIf(!api)('search filters on Postgres', () => {
  let a: ApiFixture;
  beforeAll(async () => {
    a = api!;
    await createFlows(a, FLOWS);
    for (const e of EXECUTIONS) {
      const history = JSON.stringify([{ state: e.state, date: e.start.toISOString() }]);
      await a.db.prisma.$executeRaw`
        INSERT INTO executions (id, namespace, flow_id, flow_revision, state, state_history, labels, parent_id, start_date, updated_at)
        VALUES (${e.id}, ${e.namespace}, ${e.flowId}, 1, ${e.state}, ${history}::jsonb, ${JSON.stringify(e.labels)}::jsonb, ${e.parent ?? null}, ${e.start}, now())`;
    }
    await a.db.logs.append(LOGS.map((l) => ({ ...l, taskId: 'log' })));
    await a.db.prisma.trigger.createMany({
      data: [
        { namespace: 'sf.team', flowId: 'beta', triggerId: 'daily', nextFireDate: new Date('2026-02-01T00:00:00.000Z'), lastFireDate: new Date('2026-01-31T00:00:00.000Z'), lockOwner: 'scheduler-1', lockedUntil: new Date(now + HOUR) },
        { namespace: 'sf.other', flowId: 'delta', triggerId: 'hourly', nextFireDate: new Date('2026-01-05T00:00:00.000Z') },
        // The trigger of a flow that does not exist (left until the scheduler's next sync): never listed.
        { namespace: 'sf.gone', flowId: 'gone', triggerId: 'daily', nextFireDate: new Date('2026-01-06T00:00:00.000Z') },
      ],
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  for (const base of ['/api/v1', '/api/v1/main']) {
    describe(`under ${base}`, () => {
      async function search(path: string): Promise<{ results: Record<string, unknown>[]; total: number }> {
        const response = await a.fetch(`${base}${path}`);
        expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
        return (await response.json()) as { results: Record<string, unknown>[]; total: number };
      }
      /** The ids of an execution search, in the order answered; the total must be their count (one page). */
      async function executionIds(query: string): Promise<string[]> {
        const found = await search(`/executions/search?size=50&${query}`);
        expect(found.total).toBe(found.results.length);
        return found.results.map((e) => e.id as string);
      }
      const sorted = async (query: string): Promise<string[]> => (await executionIds(query)).sort();

      it('executions: namespace, every operation', async () => {
        expect(await sorted('filters[namespace][EQUALS]=sf.team')).toEqual(['sfe1', 'sfe2']);
        expect(await sorted('filters[namespace][NOT_EQUALS]=sf.team')).toEqual(['sfe3', 'sfe4', 'sfe5']);
        expect(await sorted('filters[namespace][PREFIX]=sf.team')).toEqual(['sfe1', 'sfe2', 'sfe3']);
        expect(await sorted('filters[namespace][PREFIX]=sf')).toEqual(['sfe1', 'sfe2', 'sfe3', 'sfe4']); // not sfx
        expect(await sorted('filters[namespace][IN]=sf.team,sfx')).toEqual(['sfe1', 'sfe2', 'sfe5']);
        expect(await sorted('filters[namespace][IN]=sf.team&filters[namespace][IN]=sfx')).toEqual(['sfe1', 'sfe2', 'sfe5']);
        expect(await sorted('filters[namespace][IN]=[sf.other]')).toEqual(['sfe4']);
        expect(await sorted('filters[namespace][NOT_IN]=sf.team,sfx')).toEqual(['sfe3', 'sfe4']);
        expect(await sorted('filters[namespace][STARTS_WITH]=sf.')).toEqual(['sfe1', 'sfe2', 'sfe3', 'sfe4']);
        expect(await sorted('filters[namespace][ENDS_WITH]=.sub')).toEqual(['sfe3']);
        expect(await sorted('filters[namespace][CONTAINS]=other')).toEqual(['sfe4']);
        expect(await sorted('filters[namespace][CONTAINS]=_')).toEqual([]); // LIKE wildcards are literal
        expect(await sorted(`filters[namespace][REGEX]=${encodeURIComponent('^sf\\.(team|other)$')}`)).toEqual(['sfe1', 'sfe2', 'sfe4']);
      });

      it('executions: flowId, state, triggerExecutionId, childFilter', async () => {
        expect(await sorted('filters[flowId][EQUALS]=alpha')).toEqual(['sfe1']);
        expect(await sorted('filters[flowId][IN]=alpha,gamma')).toEqual(['sfe1', 'sfe3']);
        expect(await sorted('filters[flowId][STARTS_WITH]=e')).toEqual(['sfe5']);
        expect(await sorted('filters[flowId][PREFIX]=beta')).toEqual(['sfe2']);
        expect(await sorted('filters[state][EQUALS]=SUCCESS')).toEqual(['sfe1', 'sfe4']);
        expect(await sorted('filters[state][NOT_EQUALS]=SUCCESS')).toEqual(['sfe2', 'sfe3', 'sfe5']);
        expect(await sorted('filters[state][IN]=FAILED,KILLED')).toEqual(['sfe2', 'sfe5']);
        expect(await sorted('filters[state][NOT_IN]=FAILED,KILLED,SUCCESS')).toEqual(['sfe3']);
        expect(await sorted('filters[triggerExecutionId][EQUALS]=sfe1')).toEqual(['sfe3']);
        expect(await sorted('filters[triggerExecutionId][NOT_EQUALS]=sfe1')).toEqual(['sfe1', 'sfe2', 'sfe4', 'sfe5']);
        expect(await sorted('filters[childFilter][EQUALS]=CHILD')).toEqual(['sfe3']);
        expect(await sorted('filters[childFilter][EQUALS]=MAIN')).toEqual(['sfe1', 'sfe2', 'sfe4', 'sfe5']);
        expect(await sorted('filters[childFilter][NOT_EQUALS]=CHILD')).toEqual(['sfe1', 'sfe2', 'sfe4', 'sfe5']);
        expect(await sorted('filters[childFilter][NOT_EQUALS]=MAIN')).toEqual(['sfe3']);
      });

      it('executions: labels, every operation and both forms', async () => {
        expect(await sorted('filters[labels][EQUALS][team]=data')).toEqual(['sfe1']);
        expect(await sorted('filters[labels][EQUALS]=env:prod')).toEqual(['sfe2']);
        expect(await sorted('filters[labels][EQUALS][team]=ops&filters[labels][EQUALS][env]=prod')).toEqual(['sfe2']);
        expect(await sorted('filters[labels][EQUALS][team]=data&filters[labels][EQUALS][env]=prod')).toEqual([]);
        expect(await sorted('filters[labels][IN][team]=data&filters[labels][IN][env]=dev')).toEqual(['sfe1', 'sfe4']);
        expect(await sorted('filters[labels][IN]=team:data,env:dev')).toEqual(['sfe1', 'sfe4']);
        expect(await sorted('filters[labels][NOT_EQUALS][env]=prod')).toEqual(['sfe1', 'sfe3', 'sfe4', 'sfe5']);
        expect(await sorted('filters[labels][NOT_IN][env]=prod&filters[labels][NOT_IN][team]=data')).toEqual(['sfe3', 'sfe4', 'sfe5']);
        expect(await sorted('filters[labels][CONTAINS]=PRO')).toEqual(['sfe2']);
        expect(await sorted('filters[labels][CONTAINS]=env')).toEqual(['sfe2', 'sfe4']);
      });

      it('executions: startDate, endDate, timeRange, q, scope', async () => {
        expect(await sorted('filters[startDate][GREATER_THAN_OR_EQUAL_TO]=2026-01-02T00:00:00Z&filters[endDate][LESS_THAN]=2026-01-04T00:00:00Z')).toEqual(['sfe2', 'sfe3']);
        expect(await sorted('filters[startDate][GREATER_THAN]=2026-01-02T00:00:00Z&filters[startDate][LESS_THAN_OR_EQUAL_TO]=2026-01-04T00:00:00Z')).toEqual(['sfe3', 'sfe4']);
        expect(await sorted('filters[startDate][EQUALS]=2026-01-01T00:00:00.000Z')).toEqual(['sfe1']);
        expect(await sorted('filters[endDate][NOT_EQUALS]=2026-01-01T00:00:00.000Z')).toEqual(['sfe2', 'sfe3', 'sfe4', 'sfe5']);
        expect(await sorted('filters[endDate][LESS_THAN_OR_EQUAL_TO]=2026-01-01T00:00:00%2B00:00')).toEqual(['sfe1']);
        expect(await sorted('filters[timeRange][EQUALS]=PT24H')).toEqual(['sfe5']);
        expect(await sorted('filters[timeRange][EQUALS]=P3650D')).toEqual(['sfe1', 'sfe2', 'sfe3', 'sfe4', 'sfe5']);
        expect(await sorted('filters[q][EQUALS]=GAMM')).toEqual(['sfe3']);
        expect(await sorted('filters[query][EQUALS]=sfe2')).toEqual(['sfe2']);
        expect(await sorted('filters[q][NOT_EQUALS]=sf.team')).toEqual(['sfe4', 'sfe5']);
        expect(await sorted('filters[q][EQUALS]=')).toEqual(['sfe1', 'sfe2', 'sfe3', 'sfe4', 'sfe5']);
        expect(await sorted('filters[scope][EQUALS]=USER')).toEqual(['sfe1', 'sfe2', 'sfe3', 'sfe4', 'sfe5']);
        expect(await sorted('filters[scope][EQUALS]=SYSTEM')).toEqual([]);
        expect(await sorted('filters[scope][NOT_EQUALS]=SYSTEM')).toEqual(['sfe1', 'sfe2', 'sfe3', 'sfe4', 'sfe5']);
        expect(await sorted('filters[scope][NOT_EQUALS]=USER')).toEqual([]);
      });

      it('executions: the 0.x parameters still work, alone and with filters', async () => {
        expect(await sorted('namespace=sf.team')).toEqual(['sfe1', 'sfe2', 'sfe3']);
        expect(await sorted('namespace=sf.team&filters[state][EQUALS]=RUNNING')).toEqual(['sfe3']);
        expect(await sorted('state=SUCCESS&labels=env:dev')).toEqual(['sfe4']);
        expect(await sorted('flowId=beta&startDate=2026-01-01T00:00:00Z&endDate=2026-01-05T00:00:00Z')).toEqual(['sfe2']);
      });

      it('executions: newest first by default; sort and paging', async () => {
        expect(await executionIds('')).toEqual(['sfe5', 'sfe4', 'sfe3', 'sfe2', 'sfe1']);
        expect(await executionIds('sort=state.startDate:asc')).toEqual(['sfe1', 'sfe2', 'sfe3', 'sfe4', 'sfe5']);
        expect(await executionIds('sort=namespace:desc&sort=flowId:asc')).toEqual(['sfe5', 'sfe3', 'sfe1', 'sfe2', 'sfe4']);
        expect(await executionIds('sort=state.current:asc,id:desc')).toEqual(['sfe2', 'sfe5', 'sfe3', 'sfe4', 'sfe1']);
        expect(await executionIds('sort=flowId')).toEqual(['sfe1', 'sfe2', 'sfe4', 'sfe5', 'sfe3']);
        const page = await search('/executions/search?sort=state.startDate:asc&size=2&page=2');
        expect(page.total).toBe(5);
        expect(page.results.map((e) => e.id)).toEqual(['sfe3', 'sfe4']);
        const last = await search('/executions/search?filters[namespace][PREFIX]=sf&size=3&page=2');
        expect(last).toMatchObject({ total: 4 });
        expect(last.results.map((e) => e.id)).toEqual(['sfe1']);
      });

      it('logs: every field', async () => {
        const messages = async (query: string): Promise<string[]> => {
          const found = await search(`/logs/search?size=50&${query}`);
          expect(found.total).toBe(found.results.length);
          return found.results.map((l) => l.message as string);
        };
        expect(await messages('')).toEqual(['recent line', 'delta warning', 'beta debug 50%_done', 'alpha failed: Disk full', 'starting alpha']);
        expect(await messages('filters[namespace][EQUALS]=sf.other')).toEqual(['delta warning']);
        expect(await messages('filters[namespace][PREFIX]=sf&sort=timestamp:asc')).toEqual(['starting alpha', 'alpha failed: Disk full', 'beta debug 50%_done', 'delta warning']);
        expect(await messages('filters[namespace][NOT_IN]=sf.team,sf.other')).toEqual(['recent line']);
        expect(await messages('filters[flowId][EQUALS]=beta')).toEqual(['beta debug 50%_done']);
        expect(await messages('filters[flowId][ENDS_WITH]=ta')).toEqual(['delta warning', 'beta debug 50%_done']);
        expect(await messages('filters[executionId][EQUALS]=sfe1')).toEqual(['alpha failed: Disk full', 'starting alpha']);
        expect(await messages('filters[executionId][IN]=sfe2,sfe4')).toEqual(['delta warning', 'beta debug 50%_done']);
        expect(await messages('filters[executionId][NOT_EQUALS]=sfe1&filters[executionId][STARTS_WITH]=sfe')).toEqual(['recent line', 'delta warning', 'beta debug 50%_done']);
        expect(await messages('filters[executionId][CONTAINS]=e5')).toEqual(['recent line']);
        expect(await messages('filters[level][EQUALS]=WARN')).toEqual(['delta warning', 'alpha failed: Disk full']);
        expect(await messages('filters[minLevel][EQUALS]=ERROR')).toEqual(['alpha failed: Disk full']);
        expect(await messages('filters[level][NOT_EQUALS]=INFO')).toEqual(['beta debug 50%_done']);
        expect(await messages('filters[q][EQUALS]=disk')).toEqual(['alpha failed: Disk full']);
        expect(await messages('filters[q][EQUALS]=50%25_')).toEqual(['beta debug 50%_done']);
        expect(await messages('filters[q][EQUALS]=0%25d')).toEqual([]); // % is literal
        expect(await messages('filters[q][NOT_EQUALS]=alpha')).toEqual(['recent line', 'delta warning', 'beta debug 50%_done']);
        expect(await messages('filters[startDate][GREATER_THAN]=2026-01-02T00:00:01Z&filters[endDate][LESS_THAN]=2026-02-01T00:00:00Z')).toEqual(['delta warning']);
        expect(await messages('filters[startDate][GREATER_THAN_OR_EQUAL_TO]=2026-01-02T00:00:01Z&filters[startDate][LESS_THAN_OR_EQUAL_TO]=2026-01-04T00:00:01Z')).toEqual(['delta warning', 'beta debug 50%_done']);
        expect(await messages('filters[startDate][EQUALS]=2026-01-01T00:00:01Z')).toEqual(['starting alpha']);
        expect(await messages('filters[timeRange][EQUALS]=PT1H')).toEqual(['recent line']);
        // Sluice stores no trigger log lines: triggerId is never set.
        expect(await messages('filters[triggerId][EQUALS]=daily')).toEqual([]);
        expect(await messages('filters[triggerId][NOT_EQUALS]=daily&filters[namespace][EQUALS]=sf.other')).toEqual(['delta warning']);
        expect(await messages('filters[scope][EQUALS]=USER&filters[flowId][EQUALS]=delta')).toEqual(['delta warning']);
        expect(await messages('filters[scope][EQUALS]=SYSTEM')).toEqual([]);
        // 0.x parameters, with filters.
        expect(await messages('namespace=sf&minLevel=WARN&filters[flowId][NOT_EQUALS]=alpha')).toEqual(['delta warning']);
        expect(await messages('sort=level:asc&sort=timestamp:desc')).toEqual(['beta debug 50%_done', 'alpha failed: Disk full', 'recent line', 'starting alpha', 'delta warning']);
        const page = await search('/logs/search?size=2&page=3');
        expect(page.total).toBe(5);
        expect(page.results.map((l) => l.message)).toEqual(['starting alpha']);
      });

      it('flows: every field', async () => {
        const ids = async (query: string): Promise<string[]> => {
          const found = await search(`/flows/search?size=50&${query}`);
          expect(found.total).toBe(found.results.length);
          return found.results.map((f) => f.id as string);
        };
        expect(await ids('filters[namespace][PREFIX]=sf.team')).toEqual(['alpha', 'beta', 'gamma']);
        expect(await ids('filters[namespace][EQUALS]=sf.team')).toEqual(['alpha', 'beta']);
        expect(await ids('filters[namespace][NOT_EQUALS]=sf.team')).toEqual(['delta', 'gamma', 'epsilon']);
        expect(await ids('filters[namespace][REGEX]=^sfx$')).toEqual(['epsilon']);
        expect(await ids('filters[flowId][STARTS_WITH]=a')).toEqual(['alpha']);
        expect(await ids('filters[flowId][IN]=alpha,delta')).toEqual(['delta', 'alpha']);
        expect(await ids('filters[flowId][CONTAINS]=lt')).toEqual(['delta']);
        expect(await ids('filters[labels][EQUALS][team]=data')).toEqual(['alpha']); // a map of labels
        expect(await ids('filters[labels][EQUALS]=env:prod')).toEqual(['beta']); // a list of labels
        expect(await ids('filters[labels][IN]=env:prod,team:data')).toEqual(['alpha', 'beta']);
        expect(await ids('filters[labels][NOT_EQUALS][env]=prod&filters[namespace][EQUALS]=sf.team')).toEqual(['alpha']);
        expect(await ids('filters[labels][CONTAINS]=DAT')).toEqual(['alpha']);
        expect(await ids('filters[labels][CONTAINS]=env')).toEqual(['beta']);
        expect(await ids('filters[q][EQUALS]=ALP')).toEqual(['alpha']);
        expect(await ids('filters[q][NOT_EQUALS]=sf.')).toEqual(['epsilon']);
        expect(await ids('filters[scope][EQUALS]=USER&namespace=sf.team')).toEqual(['alpha', 'beta', 'gamma']);
        expect(await ids('filters[scope][EQUALS]=SYSTEM')).toEqual([]);
        expect(await ids('namespace=sf&q=a')).toEqual(['delta', 'alpha', 'beta', 'gamma']);
        expect(await ids('sort=id:desc')).toEqual(['gamma', 'epsilon', 'delta', 'beta', 'alpha']);
        const page = await search('/flows/search?sort=id:asc&size=2&page=2');
        expect(page.total).toBe(5);
        expect(page.results.map((f) => f.id)).toEqual(['delta', 'epsilon']);
      });

      it('triggers: Kestra shape, every field, sort and paging', async () => {
        const all = await search('/triggers/search');
        expect(all.total).toBe(2);
        expect(all.results).toEqual([
          {
            abstractTrigger: null, // delta declares no trigger `hourly` (any more)
            triggerContext: { namespace: 'sf.other', flowId: 'delta', triggerId: 'hourly', nextExecutionDate: '2026-01-05T00:00:00.000Z', updatedDate: expect.any(String), disabled: false },
          },
          {
            abstractTrigger: { id: 'daily', type: 'io.kestra.plugin.core.trigger.Schedule', cron: '0 0 * * *' },
            triggerContext: {
              namespace: 'sf.team', flowId: 'beta', triggerId: 'daily', date: '2026-01-31T00:00:00.000Z', nextExecutionDate: '2026-02-01T00:00:00.000Z',
              updatedDate: expect.any(String), workerId: 'scheduler-1', disabled: false,
            },
          },
        ]);
        const ids = async (query: string): Promise<string[]> => {
          const found = await search(`/triggers/search?${query}`);
          expect(found.total).toBe(found.results.length);
          return found.results.map((t) => (t.triggerContext as { triggerId: string }).triggerId);
        };
        expect(await ids('filters[namespace][EQUALS]=sf.team')).toEqual(['daily']);
        expect(await ids('filters[namespace][PREFIX]=sf')).toEqual(['hourly', 'daily']);
        expect(await ids('filters[flowId][NOT_EQUALS]=beta')).toEqual(['hourly']);
        expect(await ids('filters[triggerId][IN]=hourly,nope')).toEqual(['hourly']);
        expect(await ids('filters[triggerId][STARTS_WITH]=da')).toEqual(['daily']);
        expect(await ids('filters[workerId][EQUALS]=scheduler-1')).toEqual(['daily']);
        expect(await ids('filters[startDate][GREATER_THAN]=2026-01-10T00:00:00Z')).toEqual(['daily']);
        expect(await ids('filters[endDate][LESS_THAN_OR_EQUAL_TO]=2026-01-05T00:00:00Z')).toEqual(['hourly']);
        expect(await ids('filters[timeRange][EQUALS]=PT1H')).toEqual([]);
        expect(await ids('filters[q][EQUALS]=DAIL')).toEqual(['daily']);
        expect(await ids('filters[q][NOT_EQUALS]=daily')).toEqual(['hourly']);
        expect(await ids('filters[scope][EQUALS]=USER')).toEqual(['hourly', 'daily']);
        expect(await ids('filters[triggerState][EQUALS]=enabled')).toEqual(['hourly', 'daily']);
        expect(await ids('filters[triggerState][EQUALS]=disabled')).toEqual([]);
        expect(await ids('filters[triggerState][NOT_EQUALS]=disabled')).toEqual(['hourly', 'daily']);
        expect(await ids('sort=triggerId:desc')).toEqual(['hourly', 'daily']);
        expect(await ids('sort=nextExecutionDate:desc')).toEqual(['daily', 'hourly']);
        const page = await search('/triggers/search?size=1&page=2&sort=nextExecutionDate:asc');
        expect(page.total).toBe(2);
        expect(page.results.map((t) => (t.triggerContext as { triggerId: string }).triggerId)).toEqual(['daily']);
      });

      const refusals: [string, string, RegExp][] = [
        // [path and query, the parameter named, the message]
        ['/executions/search?filters[bogus][EQUALS]=x', 'filters[bogus][EQUALS]', /unknown filter field "bogus"/],
        ['/executions/search?filters[level][EQUALS]=INFO', 'filters[level][EQUALS]', /unknown filter field "level"/],
        ['/logs/search?filters[state][EQUALS]=SUCCESS', 'filters[state][EQUALS]', /unknown filter field "state"/],
        ['/flows/search?filters[startDate][GREATER_THAN]=2026-01-01T00:00:00Z', 'filters[startDate][GREATER_THAN]', /unknown filter field/],
        ['/triggers/search?filters[labels][EQUALS][a]=b', 'filters[labels][EQUALS][a]', /unknown filter field "labels"/],
        ['/executions/search?filters[namespace][LIKE]=x', 'filters[namespace][LIKE]', /unknown filter operation "LIKE"/],
        ['/executions/search?filters[namespace][equals]=x', 'filters[namespace][equals]', /unknown filter operation/],
        ['/executions/search?filters[state][CONTAINS]=RUN', 'filters[state][CONTAINS]', /does not take the operation CONTAINS/],
        ['/logs/search?filters[level][GREATER_THAN]=INFO', 'filters[level][GREATER_THAN]', /does not take the operation/],
        ['/executions/search?filters[timeRange][GREATER_THAN]=PT1H', 'filters[timeRange][GREATER_THAN]', /does not take/],
        ['/flows/search?filters[q][CONTAINS]=a', 'filters[q][CONTAINS]', /does not take/],
        ['/executions/search?filters[startDate][STARTS_WITH]=2026', 'filters[startDate][STARTS_WITH]', /does not take/],
        ['/logs/search?filters[executionId][REGEX]=a', 'filters[executionId][REGEX]', /does not take/],
        ['/executions/search?filters[namespace]=x', 'filters[namespace]', /filters\[field\]\[OPERATION\]=value/],
        ['/executions/search?filters=x', 'filters', /filters\[field\]\[OPERATION\]=value/],
        ['/executions/search?filters[namespace][EQUALS]x=y', 'filters[namespace][EQUALS]x', /filters\[field\]/],
        ['/executions/search?filters[namespace][EQUALS][k]=x', 'filters[namespace][EQUALS][k]', /only labels take a key/],
        ['/executions/search?filters[namespace][EQUALS]=', 'filters[namespace][EQUALS]', /must not be empty/],
        ['/executions/search?filters[namespace][IN]=a,,b', 'filters[namespace][IN]', /empty item/],
        ['/executions/search?filters[labels][EQUALS]=nocolon', 'filters[labels][EQUALS]', /key:value/],
        ['/executions/search?filters[labels][EQUALS][]=x', 'filters[labels][EQUALS][]', /key must not be empty/],
        ['/executions/search?filters[state][EQUALS]=DONE', 'filters[state][EQUALS]', /must be one of CREATED/],
        ['/executions/search?filters[startDate][GREATER_THAN]=yesterday', 'filters[startDate][GREATER_THAN]', /ISO-8601 date-time/],
        ['/executions/search?filters[timeRange][EQUALS]=24h', 'filters[timeRange][EQUALS]', /ISO-8601 duration/],
        ['/executions/search?filters[timeRange][EQUALS]=PT1H&filters[startDate][GREATER_THAN]=2026-01-01T00:00:00Z', 'filters[timeRange][EQUALS]', /exclude each other/],
        ['/logs/search?filters[timeRange][EQUALS]=PT1H&startDate=2026-01-01T00:00:00Z', 'filters[timeRange][EQUALS]', /exclude each other/],
        ['/logs/search?filters[level][EQUALS]=LOUD', 'filters[level][EQUALS]', /must be one of TRACE/],
        ['/executions/search?filters[scope][EQUALS]=ALL', 'filters[scope][EQUALS]', /USER, SYSTEM/],
        ['/executions/search?filters[childFilter][EQUALS]=SUB', 'filters[childFilter][EQUALS]', /CHILD, MAIN/],
        ['/triggers/search?filters[triggerState][EQUALS]=paused', 'filters[triggerState][EQUALS]', /enabled, disabled/],
        ['/executions/search?filters[namespace][REGEX]=(', 'filters', /regular expression/],
        ['/executions/search?nmespace=sf', 'nmespace', /unknown query parameter "nmespace"/],
        ['/logs/search?level=INFO', 'level', /unknown query parameter "level"/],
        ['/flows/search?labels=a:b', 'labels', /unknown query parameter "labels"/],
        ['/triggers/search?namespace=sf', 'namespace', /unknown query parameter "namespace"/],
        ['/executions/search?sort=startDate:desc', 'sort', /unknown sort field "startDate"/],
        ['/executions/search?sort=state.startDate:down', 'sort', /field:asc or field:desc/],
        ['/logs/search?sort=message:asc', 'sort', /unknown sort field/],
        ['/flows/search?sort=revision:asc:x', 'sort', /field:asc or field:desc/],
        ['/triggers/search?sort=bogus', 'sort', /unknown sort field/],
      ];
      it.each(refusals)('400 for %s', async (path, parameter, message) => {
        const response = await a.fetch(`${base}${path}`);
        expect(response.status).toBe(400);
        const body = (await response.json()) as { code: string; message: string; details: { parameter?: string; in?: string } };
        expect(body.code).toBe('SLU_API_BAD_REQUEST');
        expect(body.message).toMatch(message);
        expect(body.details).toMatchObject({ in: 'query', parameter });
      });
    });
  }
});
