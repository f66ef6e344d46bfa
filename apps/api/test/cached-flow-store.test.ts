import { fileURLToPath } from 'node:url';
import { createDb, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import { createBullmqQueue } from '@sluice/queue';
import type { QueueDriver } from '@sluice/queue';
import { createTestDatabase, describeWithRedis } from '@sluice/testing';
import type { TestDatabase } from '@sluice/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCachedFlowStore } from '../src/cached-flow-store.js';
import type { CachedFlowStore } from '../src/cached-flow-store.js';
import { createDbFlowStore } from '../src/index.js';
import type { FlowStore } from '../src/index.js';

const migrationsDir = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

/** Two API instances' flow stores over one database and one Redis, each counting its reads of the latest revision. */
describeWithRedis('the API flow cache', (redis) => {
  let database: TestDatabase | undefined;
  let db: Db;
  const drivers: QueueDriver[] = [];
  const stores: CachedFlowStore[] = [];
  let reads = [0, 0];

  beforeAll(async () => {
    database = await createTestDatabase('sluice_flow_cache');
    if (!database) throw new Error('Postgres is not running: sudo bash scripts/services.sh');
    await migrate({ databaseUrl: database.url, migrationsDir });
    db = createDb({ databaseUrl: database.url });
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    for (const driver of drivers) await driver.close();
    await db?.close();
    await database?.drop();
  });

  const instance = (index: number, now?: () => number): CachedFlowStore => {
    const inner = createDbFlowStore(db);
    const counting: FlowStore = {
      ...inner,
      get: (namespace, id, revision) => {
        if (revision === undefined) reads[index]!++;
        return inner.get(namespace, id, revision);
      },
    };
    const driver = createBullmqQueue({ url: redis().url, prefix: `sluice-flow-cache-${process.pid}` });
    drivers.push(driver);
    const store = createCachedFlowStore(counting, driver, now ? { now } : {});
    stores.push(store);
    return store;
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
  const yaml = (message: string) => ({ source: `id: etl\nnamespace: cache.test\ntasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: ${message}}]\n`, flow: { message } });

  it('serves the latest revision from memory, and every instance drops it when one saves a new revision', async () => {
    reads = [0, 0];
    const a = instance(0);
    const b = instance(1);
    // Let both subscriptions get ready (until then nothing is kept).
    await new Promise((resolve) => setTimeout(resolve, 200));
    const first = yaml('one');
    await a.save('cache.test', 'etl', first.source, first.flow);
    // A read that overlaps the arrival of a change keeps nothing (it may have read the old revision): let it land.
    await settle();
    expect((await b.get('cache.test', 'etl'))?.revision).toBe(1);
    expect((await b.get('cache.test', 'etl'))?.revision).toBe(1);
    expect(reads[1]).toBe(1); // the second read came from memory

    const second = yaml('two');
    await a.save('cache.test', 'etl', second.source, second.flow);
    // The saving instance never serves the old revision again.
    expect((await a.get('cache.test', 'etl'))?.revision).toBe(2);
    // The other one drops it when the announcement arrives over Redis.
    for (let i = 0; i < 100 && (await b.get('cache.test', 'etl'))?.revision !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await b.get('cache.test', 'etl'))?.flow).toEqual({ message: 'two' });

    await a.delete('cache.test', 'etl');
    for (let i = 0; i < 100 && (await b.get('cache.test', 'etl')) !== undefined; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await b.get('cache.test', 'etl')).toBeUndefined();
    // A given revision stays readable (revisions never change), deleted or not.
    expect((await b.get('cache.test', 'etl', 1))?.flow).toEqual({ message: 'one' });
  });

  it('reads the latest revision again once it is older than the TTL', async () => {
    reads = [0, 0];
    let clock = 1_000_000;
    const store = instance(0, () => clock);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const flow = yaml('ttl');
    await store.save('cache.test', 'ttl', flow.source.replace('id: etl', 'id: ttl'), flow.flow);
    await settle();
    await store.get('cache.test', 'ttl');
    await store.get('cache.test', 'ttl');
    expect(reads[0]).toBe(1);
    clock += 30_001;
    await store.get('cache.test', 'ttl');
    expect(reads[0]).toBe(2);
  });
});
