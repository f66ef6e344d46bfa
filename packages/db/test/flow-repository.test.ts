import { beforeAll, expect, it } from 'vitest';
import type { Db } from '@sluice/db';
import { describeWithPostgres } from './postgres-fixture.js';

const yaml = (ns: string, id: string, extra = ''): string => `id: ${id}\nnamespace: ${ns}\n# comment kept\ntasks: []${extra}\n`;
const parsed = (ns: string, id: string): Record<string, unknown> => ({ id, namespace: ns, tasks: [] });

await describeWithPostgres('FlowRepository', (postgres) => {
  let db: Db;
  beforeAll(async () => {
    db = await postgres.migratedDb();
  });

  it('numbers revisions from 1, keeps the source verbatim and adds none for an unchanged source', async () => {
    expect(await db.flows.latest('rev.ns', 'f')).toBeUndefined();
    expect(await db.flows.revisions('rev.ns', 'f')).toEqual([]);

    const first = await db.flows.save('rev.ns', 'f', yaml('rev.ns', 'f'), parsed('rev.ns', 'f'));
    expect(first.created).toBe(true);
    expect(first.flow).toMatchObject({ namespace: 'rev.ns', id: 'f', revision: 1, source: yaml('rev.ns', 'f'), deleted: false });
    expect(first.flow.parsed).toEqual(parsed('rev.ns', 'f'));

    const same = await db.flows.save('rev.ns', 'f', yaml('rev.ns', 'f'), parsed('rev.ns', 'f'));
    expect(same).toEqual({ flow: first.flow, created: false });

    const second = await db.flows.save('rev.ns', 'f', yaml('rev.ns', 'f', '\n# v2'), parsed('rev.ns', 'f'));
    expect(second.created).toBe(true);
    expect(second.flow.revision).toBe(2);
    expect(await db.flows.latest('rev.ns', 'f')).toEqual(second.flow);
    expect((await db.flows.revisions('rev.ns', 'f')).map((r) => r.revision)).toEqual([1, 2]);
    // Another flow of the same namespace has its own numbering.
    expect((await db.flows.save('rev.ns', 'g', yaml('rev.ns', 'g'), {})).flow.revision).toBe(1);
  });

  it('deletes softly with a new revision, and a later save revives the flow', async () => {
    await db.flows.save('del.ns', 'f', yaml('del.ns', 'f'), parsed('del.ns', 'f'));
    const deleted = await db.flows.delete('del.ns', 'f');
    expect(deleted).toMatchObject({ revision: 2, deleted: true, source: yaml('del.ns', 'f') });
    expect(await db.flows.latest('del.ns', 'f')).toBeUndefined();
    expect(await db.flows.delete('del.ns', 'f')).toBeUndefined();
    expect(await db.flows.delete('del.ns', 'never')).toBeUndefined();
    expect((await db.flows.revisions('del.ns', 'f')).map((r) => [r.revision, r.deleted])).toEqual([[1, false], [2, true]]);

    // Same source as before the deletion: still a new revision, since the flow was gone.
    const revived = await db.flows.save('del.ns', 'f', yaml('del.ns', 'f'), parsed('del.ns', 'f'));
    expect(revived).toMatchObject({ created: true, flow: { revision: 3, deleted: false } });
    expect((await db.flows.latest('del.ns', 'f'))?.revision).toBe(3);
  });

  it('serialises concurrent saves of one flow into consecutive revisions', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => db.flows.save('race.ns', 'f', yaml('race.ns', 'f', `\n# ${i}`), {})),
    );
    expect(results.map((r) => r.flow.revision).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const latestRows = await db.prisma.flow.count({ where: { namespace: 'race.ns', flowId: 'f', latest: true } });
    expect(latestRows).toBe(1);
  });

  it('searches latest live revisions by namespace prefix and text, paged', async () => {
    for (const [ns, id] of [
      ['search.a', 'one'],
      ['search.a', 'two'],
      ['search.a.sub', 'three'],
      ['search.ab', 'four'],
      ['search.x_y', 'five'],
      ['search.xzy', 'six'],
      ['search.a', 'gone'],
    ] as const) {
      await db.flows.save(ns, id, yaml(ns, id), parsed(ns, id));
    }
    await db.flows.save('search.a', 'one', yaml('search.a', 'one', '\n# v2'), parsed('search.a', 'one'));
    await db.flows.delete('search.a', 'gone');

    const ids = (r: { results: { namespace: string; id: string }[] }): string[] => r.results.map((f) => `${f.namespace}/${f.id}`);
    const inA = await db.flows.search({ namespace: 'search.a', page: 1, size: 10 });
    expect(ids(inA)).toEqual(['search.a/one', 'search.a/two', 'search.a.sub/three']);
    expect(inA.total).toBe(3);
    expect(inA.results[0]).toMatchObject({ revision: 2, deleted: false, source: yaml('search.a', 'one', '\n# v2') });
    expect(inA.results[0]!.parsed).toEqual(parsed('search.a', 'one'));
    expect(inA.results[0]!.createdAt).toBeInstanceOf(Date);

    // `_` is a literal, not a LIKE wildcard.
    expect(ids(await db.flows.search({ namespace: 'search.x_y', page: 1, size: 10 }))).toEqual(['search.x_y/five']);
    expect(ids(await db.flows.search({ q: 'X_Y', page: 1, size: 10 }))).toEqual(['search.x_y/five']);
    expect(ids(await db.flows.search({ namespace: 'search', q: 'T', page: 1, size: 10 }))).toEqual(['search.a/two', 'search.a.sub/three']);

    const page1 = await db.flows.search({ namespace: 'search', page: 1, size: 4 });
    const page2 = await db.flows.search({ namespace: 'search', page: 2, size: 4 });
    expect(page1.total).toBe(6);
    expect(page2.total).toBe(6);
    expect([...ids(page1), ...ids(page2)]).toEqual([
      'search.a/one', 'search.a/two', 'search.a.sub/three', 'search.ab/four', 'search.x_y/five', 'search.xzy/six',
    ]);
    expect(await db.flows.search({ namespace: 'search', page: 3, size: 4 })).toEqual({ results: [], total: 6 });
    await expect(db.flows.search({ page: 0, size: 10 })).rejects.toThrow(RangeError);
    await expect(db.flows.search({ page: 1, size: 0 })).rejects.toThrow(RangeError);
  });
});
