/**
 * Kestra's KV routes on Postgres, under `/api/v1/...` and `/api/v1/main/...`: how a PUT body is typed, the `ttl` header
 * and expiry (410, the read deletes the key; lists hide it), the key list, single and bulk deletes, the 1 MiB limit
 * (413), the 400s (key format, namespace, ttl, unknown query parameter, bulk body), 415 and 422; concurrent PUTs of
 * one key (one whole value wins); and the workers' internal routes (worker token only, errors with their parameters).
 */
import { KV_VALUE_MAX_BYTES } from '@sluice/core';
import { afterAll, describe, expect, it } from 'vitest';
import { startApi } from './fixture.js';

const WORKER_TOKEN = 'kv-worker-token';
const api = await startApi({ workerToken: WORKER_TOKEN, databasePrefix: 'sluice_api_kv' });
const PREFIXES = ['/api/v1', '/api/v1/main'];

interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

describe.skipIf(!api)('KV routes on Postgres', () => {
  const a = api!;
  afterAll(async () => {
    await a.close();
  });

  const put = (path: string, body: string, headers: Record<string, string> = {}): Promise<Response> =>
    a.fetch(path, { method: 'PUT', headers: { 'content-type': 'text/plain', ...headers }, body });
  const json = async <T>(response: Response): Promise<T> => (await response.json()) as T;
  /** Move a key's expiry into the past, as time would (no waiting in tests). */
  const expire = (namespace: string, key: string): Promise<number> =>
    a.db.prisma.$executeRaw`UPDATE kv_entries SET expiration_date = now() - interval '1 second' WHERE namespace = ${namespace} AND key = ${key}`;

  for (const prefix of PREFIXES) {
    describe(prefix, () => {
      const ns = `kv.api${prefix.replaceAll('/', '.')}`.replace('..', '.');
      const kv = `${prefix}/namespaces/${ns}/kv`;

      it('types a PUT body as Kestra does (ION) and GET answers {type, value}', async () => {
        const cases: [string, string, unknown][] = [
          ['"hello"', 'STRING', 'hello'],
          ['  "with spaces"\n', 'STRING', 'with spaces'],
          ['hello', 'STRING', 'hello'],
          ['1', 'NUMBER', 1],
          ['1.5', 'NUMBER', 1.5],
          ['-2e3', 'NUMBER', -2000],
          ['true', 'BOOLEAN', true],
          ['false', 'BOOLEAN', false],
          ['2021-09-01', 'DATE', '2021-09-01'],
          ['2021-09-01T01:02:03Z', 'DATETIME', '2021-09-01T01:02:03Z'],
          ['2021-09-01T03:02:03.250+02:00', 'DATETIME', '2021-09-01T01:02:03.250Z'],
          ['"PT5S"', 'DURATION', 'PT5S'],
          ['"P1D"', 'DURATION', 'PT24H'],
          ['{"a": {"b": [1, "x"]}}', 'JSON', { a: { b: [1, 'x'] } }],
          ['[1, 2]', 'JSON', [1, 2]],
        ];
        for (const [index, [body, type, value]] of cases.entries()) {
          const response = await put(`${kv}/k${index}`, body);
          expect(response.status, body).toBe(200);
          const got = await a.fetch(`${kv}/k${index}`);
          expect(got.status).toBe(200);
          expect(await got.json(), body).toEqual({ type, value });
        }
        // JSON content type: the same reading.
        const asJson = await a.fetch(`${kv}/as_json`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"n": 1}' });
        expect(asJson.status).toBe(200);
        expect(await json(await a.fetch(`${kv}/as_json`))).toEqual({ type: 'JSON', value: { n: 1 } });
      });

      it('a PUT replaces the value and its type; the key list keeps the creation date', async () => {
        expect((await put(`${kv}/replaced`, '1')).status).toBe(200);
        const [first] = (await json<{ key: string; creationDate: string }[]>(await a.fetch(kv))).filter((e) => e.key === 'replaced');
        expect((await put(`${kv}/replaced`, '{"now": "json"}')).status).toBe(200);
        expect(await json(await a.fetch(`${kv}/replaced`))).toEqual({ type: 'JSON', value: { now: 'json' } });
        const [second] = (await json<{ key: string; creationDate: string; updateDate: string }[]>(await a.fetch(kv))).filter((e) => e.key === 'replaced');
        expect(second?.creationDate).toBe(first?.creationDate);
        expect(Date.parse(second!.updateDate)).toBeGreaterThanOrEqual(Date.parse(first!.creationDate));
      });

      it('GET of a missing key is a 404 naming it', async () => {
        const response = await a.fetch(`${kv}/nope`);
        expect(response.status).toBe(404);
        const body = await json<ErrorBody>(response);
        expect(body.code).toBe('SLU_KV_NOT_FOUND');
        expect(body.message).toBe(`no KV key nope in namespace ${ns}`);
      });

      it('ttl: the key expires that long after the PUT; then GET is a 410 that deletes it, and lists hide it', async () => {
        expect((await put(`${kv}/short`, '"soon gone"', { ttl: 'PT1H' })).status).toBe(200);
        expect((await put(`${kv}/forever`, '"stays"')).status).toBe(200);
        const listed = await json<{ key: string; creationDate: string; updateDate: string; expirationDate?: string }[]>(await a.fetch(kv));
        const short = listed.find((e) => e.key === 'short')!;
        expect(Date.parse(short.expirationDate!) - Date.parse(short.updateDate)).toBe(3_600_000);
        expect(listed.find((e) => e.key === 'forever')).not.toHaveProperty('expirationDate');
        expect(await json(await a.fetch(`${kv}/short`))).toEqual({ type: 'STRING', value: 'soon gone' });

        expect(await expire(ns, 'short')).toBe(1);
        expect((await json<{ key: string }[]>(await a.fetch(kv))).map((e) => e.key)).not.toContain('short');
        expect((await put(`${kv}/short2`, '"x"', { ttl: 'PT1H' })).status).toBe(200);
        expect(await expire(ns, 'short2')).toBe(1);
        const gone = await a.fetch(`${kv}/short2`);
        expect(gone.status).toBe(410);
        const body = await json<ErrorBody>(gone);
        expect(body.code).toBe('SLU_KV_EXPIRED');
        expect(body.message).toBe(`the value of KV key short2 in namespace ${ns} has expired`);
        // The read deleted it: now it is missing.
        expect((await a.fetch(`${kv}/short2`)).status).toBe(404);
      });

      it('a bad ttl header is a 400 naming it', async () => {
        for (const ttl of ['5m', 'P1M', 'PT0S', 'soon']) {
          const response = await put(`${kv}/ttl_bad`, '1', { ttl });
          expect(response.status, ttl).toBe(400);
          const body = await json<ErrorBody>(response);
          expect(body.code).toBe('SLU_KV_INVALID_TTL');
          expect(body.message).toContain(`"${ttl}"`);
        }
        expect((await a.fetch(`${kv}/ttl_bad`)).status).toBe(404);
      });

      it('keys outside Kestra\'s format are 400s, on every route', async () => {
        for (const key of ['-starts-with-dash', '.hidden', 'has%20space', 'sl%C3%A4sh', 'a%2Fb']) {
          for (const response of [await put(`${kv}/${key}`, '1'), await a.fetch(`${kv}/${key}`), await a.fetch(`${kv}/${key}`, { method: 'DELETE' })]) {
            expect(response.status, key).toBe(400);
            expect((await json<ErrorBody>(response)).code).toBe('SLU_KV_INVALID_KEY');
          }
        }
        // Over 255 characters (the URL's own limit on a path segment, 100, answers first).
        const long = await put(`${kv}/${'a'.repeat(101)}`, '1');
        expect(long.status).toBe(400);
        expect((await json<ErrorBody>(long)).message).toMatch(/too long|length/i);
        await expect(a.db.kv.set(ns, 'a'.repeat(256), { type: 'NUMBER', value: 1 })).rejects.toMatchObject({ code: 'SLU_KV_INVALID_KEY' });
        const bulk = await a.fetch(kv, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{"keys": ["ok", "not ok"]}' });
        expect(bulk.status).toBe(400);
        expect((await json<ErrorBody>(bulk)).code).toBe('SLU_KV_INVALID_KEY');
      });

      it('a namespace that is not one is a 400', async () => {
        const response = await put(`${prefix}/namespaces/Bad_NS!/kv/k`, '1');
        expect(response.status).toBe(400);
        expect((await json<ErrorBody>(response)).code).toBe('SLU_FLOW_INVALID_NAMESPACE');
      });

      it('a body that is not a value is a 422 saying what to send; null too', async () => {
        for (const body of ['hello world', '', '{not json', 'null', '2021-13-01', '"unterminated']) {
          const response = await put(`${kv}/bad_value`, body);
          expect(response.status, body).toBe(422);
          const error = await json<ErrorBody>(response);
          expect(error.code).toBe('SLU_KV_INVALID_VALUE');
          expect(error.message).toMatch(/^invalid KV value: /);
        }
        expect((await a.fetch(`${kv}/bad_value`)).status).toBe(404);
      });

      it('another content type is a 415 naming the two accepted', async () => {
        const response = await a.fetch(`${kv}/ct`, { method: 'PUT', headers: { 'content-type': 'application/x-yaml' }, body: 'a: 1' });
        expect(response.status).toBe(415);
        const body = await json<ErrorBody>(response);
        expect(body.code).toBe('SLU_API_UNSUPPORTED_MEDIA_TYPE');
        expect(body.message).toContain('application/json or text/plain');
      });

      it('a value over 1 MiB is a 413; exactly 1 MiB is stored', async () => {
        // A text's size is its JSON form: its quotes count.
        const fits = 'x'.repeat(KV_VALUE_MAX_BYTES - 2);
        expect((await put(`${kv}/big`, JSON.stringify(fits))).status).toBe(200);
        expect(((await json<{ value: string }>(await a.fetch(`${kv}/big`))).value).length).toBe(fits.length);
        const response = await put(`${kv}/too_big`, JSON.stringify(`${fits}y`));
        expect(response.status).toBe(413);
        const body = await json<ErrorBody>(response);
        expect(body.code).toBe('SLU_KV_VALUE_TOO_LARGE');
        expect(body.message).toBe(`the value of KV key too_big is ${KV_VALUE_MAX_BYTES + 1} bytes: a KV value is at most ${KV_VALUE_MAX_BYTES} bytes (1 MiB)`);
        expect((await a.fetch(`${kv}/too_big`)).status).toBe(404);
        // Several bytes per character count as such.
        const wide = await put(`${kv}/too_wide`, JSON.stringify('é'.repeat(KV_VALUE_MAX_BYTES / 2)));
        expect(wide.status).toBe(413);
      });

      it('DELETE answers true or false; the bulk DELETE answers the keys that were there', async () => {
        for (const key of ['d1', 'd2', 'd3']) expect((await put(`${kv}/${key}`, '1')).status).toBe(200);
        expect(await json(await a.fetch(`${kv}/d1`, { method: 'DELETE' }))).toBe(true);
        expect(await json(await a.fetch(`${kv}/d1`, { method: 'DELETE' }))).toBe(false);
        const bulk = await a.fetch(kv, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys: ['d3', 'd1', 'd2', 'never'] }) });
        expect(bulk.status).toBe(200);
        expect(await bulk.json()).toEqual({ keys: ['d2', 'd3'] });
        for (const body of ['', '[]', '{"keys": "d1"}', '{"keys": [1]}', '{"keys": [], "all": true}']) {
          const refused = await a.fetch(kv, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body });
          expect(refused.status, body).toBe(400);
          expect((await json<ErrorBody>(refused)).code).toBe('SLU_API_BAD_REQUEST');
        }
      });

      it('the key list is sorted by key, with Kestra\'s KVEntry fields only', async () => {
        const other = `${ns}.list`;
        for (const key of ['b', 'A', 'a', 'c.d']) expect((await put(`${prefix}/namespaces/${other}/kv/${key}`, '1')).status).toBe(200);
        const listed = await json<Record<string, unknown>[]>(await a.fetch(`${prefix}/namespaces/${other}/kv`));
        expect(listed.map((e) => e.key)).toEqual(['A', 'a', 'b', 'c.d']);
        for (const entry of listed) expect(Object.keys(entry).sort()).toEqual(['creationDate', 'key', 'updateDate']);
        expect(await json(await a.fetch(`${prefix}/namespaces/${other}.empty/kv`))).toEqual([]);
      });

      it('an unknown query parameter is a 400 naming it', async () => {
        const response = await a.fetch(`${kv}/k1?namespace=x`);
        expect(response.status).toBe(400);
        expect((await json<ErrorBody>(response)).message).toContain('namespace');
      });
    });
  }

  it('concurrent PUTs of one key leave one of the values whole, never a mix', async () => {
    const ns = 'kv.api.race';
    for (let round = 0; round < 5; round++) {
      const values = Array.from({ length: 12 }, (_, i) => ({ writer: i, round, payload: String(i).repeat(2000 + i) }));
      const answers = await Promise.all(values.map((value) => a.fetch(`/api/v1/namespaces/${ns}/kv/raced`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) })));
      expect(answers.map((r) => r.status)).toEqual(values.map(() => 200));
      const stored = await json<{ type: string; value: unknown }>(await a.fetch(`/api/v1/namespaces/${ns}/kv/raced`));
      expect(stored.type).toBe('JSON');
      expect(values).toContainEqual(stored.value);
      const rows = await a.db.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM kv_entries WHERE namespace = ${ns}`;
      expect(Number(rows[0]!.n)).toBe(1);
    }
  });

  it('concurrent sets with overwrite false: exactly one writes', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => a.db.kv.set('kv.api.race', 'once', { type: 'NUMBER', value: i }, { overwrite: false })));
    const written = results.filter((entry) => entry !== undefined);
    expect(written).toHaveLength(1);
    expect((await a.db.kv.get('kv.api.race', 'once')).status).toBe('found');
    // An expired key counts as absent for overwrite false.
    await expire('kv.api.race', 'once');
    expect(await a.db.kv.set('kv.api.race', 'once', { type: 'NUMBER', value: 99 }, { overwrite: false })).toMatchObject({ value: 99 });
  });

  describe('internal routes (workers)', () => {
    const internal = (path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`${a.url}/api/v1/internal/kv${path}`, { ...init, headers: { authorization: `Bearer ${WORKER_TOKEN}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers } });

    it('set, get, list and delete with the worker token only', async () => {
      expect((await fetch(`${a.url}/api/v1/internal/kv/kv.internal/k`)).status).toBe(401);
      const set = await internal('/kv.internal/k', { method: 'PUT', body: JSON.stringify({ type: 'JSON', value: { a: 1 }, ttlMs: 60_000 }) });
      expect(set.status).toBe(200);
      expect(await set.json()).toEqual({ written: true });
      expect(await json(await internal('/kv.internal/k', { method: 'PUT', body: JSON.stringify({ type: 'NUMBER', value: 2, overwrite: false }) }))).toEqual({ written: false });
      expect(await json(await internal('/kv.internal/k'))).toEqual({ status: 'found', type: 'JSON', value: { a: 1 } });
      expect(await json(await internal('/kv.internal/missing'))).toEqual({ status: 'missing' });
      const listed = await json<{ key: string; expirationDate?: string }[]>(await internal('/kv.internal'));
      expect(listed.map((e) => e.key)).toEqual(['k']);
      expect(listed[0]?.expirationDate).toBeDefined();
      await expire('kv.internal', 'k');
      expect(await json(await internal('/kv.internal/k'))).toEqual({ status: 'expired' });
      expect(await json(await internal('/kv.internal/k', { method: 'DELETE' }))).toEqual({ deleted: false });
    });

    it('errors carry their parameters for the worker (a value over 1 MiB, a bad key)', async () => {
      const big = await internal('/kv.internal/big', { method: 'PUT', body: JSON.stringify({ type: 'STRING', value: 'x'.repeat(KV_VALUE_MAX_BYTES) }) });
      expect(big.status).toBe(413);
      const body = await json<ErrorBody>(big);
      expect(body.code).toBe('SLU_KV_VALUE_TOO_LARGE');
      expect(body.details.params).toEqual({ key: 'big', size: KV_VALUE_MAX_BYTES + 2, max: KV_VALUE_MAX_BYTES });
      const bad = await internal('/kv.internal/-bad', { method: 'PUT', body: JSON.stringify({ type: 'STRING', value: 'x' }) });
      expect(bad.status).toBe(400);
      expect((await json<ErrorBody>(bad)).code).toBe('SLU_KV_INVALID_KEY');
      const badType = await internal('/kv.internal/k2', { method: 'PUT', body: JSON.stringify({ type: 'TEXT', value: 'x' }) });
      expect(badType.status).toBe(400);
    });
  });
});
