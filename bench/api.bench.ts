/**
 * REST API throughput and latency (issue #4) against a bare Fastify baseline, measured in the same run:
 * - baseline: a bare Fastify route returning a constant JSON object (`GET /constant`);
 * - `POST /api/v1/flows`: creates a NEW flow per request (distinct ids), so each one is YAML parse + validation + a
 *   revision row written in a transaction on Postgres;
 * - `GET /api/v1/flows/{namespace}/{id}`: reads the latest revision of one flow;
 * - `GET /api/v1/executions/{id}` of an execution created through the API (no scheduler runs: it stays CREATED).
 *
 * The servers (the real API from `createServer` over `createDb` on a fresh database of the test Postgres, and the
 * baseline) run in a child process, so that autocannon's client does not share their event loop. Needs the test Postgres
 * (`bash scripts/services.sh`, or SLUICE_TEST_DATABASE_URL).
 *
 *   npm run bench:api -- [seconds=10] [connections=20]
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { admin, adminUrl } from './admin.js';

const migrationsDir = fileURLToPath(new URL('../prisma/migrations', import.meta.url));

interface Ports {
  readonly api: number;
  readonly baseline: number;
  readonly executionId?: string;
}

// ---- server side (child process) --------------------------------------------------------------------------------------

async function serve(databaseUrl: string): Promise<void> {
  const [
    { createFlowValidator },
    { createDb, migrate },
    { createDefaultRegistries },
    { createDbFlowStore, createLoggingExecutionQueue, createServer },
    { LocalFileStorage },
    { default: Fastify },
  ] = await Promise.all([
    import('@sluice/core'),
    import('@sluice/db'),
    import('@sluice/plugins'),
    import('@sluice/api'),
    import('@sluice/storage'),
    import('fastify'),
  ]);
  await migrate({ databaseUrl, migrationsDir });
  const db = createDb({ databaseUrl });
  const registries = createDefaultRegistries();
  const flows = createDbFlowStore(db);
  const storage = new LocalFileStorage({ root: await mkdtemp(join(tmpdir(), 'sluice-bench-storage-')) });
  const api = createServer({
    flows,
    registries,
    validator: createFlowValidator(registries, { eager: true }),
    docs: false,
    executions: db.executions,
    storage,
    queue: createLoggingExecutionQueue(() => undefined), // no scheduler here: executions stay CREATED
  });
  const baseline = Fastify();
  const constant = { id: 'flow-get', namespace: 'bench', revision: 1, deleted: false };
  baseline.get('/constant', async () => constant);
  await api.listen({ port: 0, host: '127.0.0.1' });
  await baseline.listen({ port: 0, host: '127.0.0.1' });
  const port = (app: typeof baseline): number => {
    const address = app.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  };
  const ports: Ports = { api: port(api as unknown as typeof baseline), baseline: port(baseline) };
  process.send?.(ports);
  process.once('disconnect', () => {
    void Promise.all([api.close(), baseline.close()]).then(() => db.close());
  });
}

// ---- client side -------------------------------------------------------------------------------------------------------

interface CannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: CannonRequest) => CannonRequest;
}
interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  '2xx': number;
}
type Autocannon = (options: { url: string; connections: number; duration: number; requests?: CannonRequest[] }) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function startServers(databaseUrl: string): Promise<{ child: ChildProcess; ports: Ports }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', databaseUrl], { execArgv: process.execArgv, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', (ports) => resolve({ child, ports: ports as Ports }));
    child.once('exit', (code) => reject(new Error(`the server process exited (${code ?? 'signal'}) before listening`)));
  });
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10);
  const connections = Number(process.argv[3] ?? 20);
  const database = `sluice_bench_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE "${database}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const { child, ports } = await startServers(url.toString());
  const api = `http://127.0.0.1:${ports.api}`;
  const yamlHeaders = { 'content-type': 'application/x-yaml' };
  const flowYaml = (id: string): string =>
    `id: ${id}\nnamespace: bench\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: "{{ flow.id }} says hello"\n`;

  try {
    const seeded = await fetch(`${api}/api/v1/flows`, { method: 'POST', headers: yamlHeaders, body: flowYaml('flow-get') });
    if (!seeded.ok) throw new Error(`seeding the flow failed: ${seeded.status} ${await seeded.text()}`);
    const created = await fetch(`${api}/api/v1/executions/bench/flow-get`, { method: 'POST' });
    if (!created.ok) throw new Error(`creating an execution failed: ${created.status} ${await created.text()}`);
    const executionId = ((await created.json()) as { id: string }).id;

    let counter = 0;
    const cases: { label: string; url: string; requests?: CannonRequest[] }[] = [
      { label: 'baseline: bare Fastify GET, constant JSON', url: `http://127.0.0.1:${ports.baseline}/constant` },
      { label: 'GET /api/v1/executions/{id}', url: `${api}/api/v1/executions/${executionId}` },
      { label: 'GET /api/v1/flows/{namespace}/{id}', url: `${api}/api/v1/flows/bench/flow-get` },
      {
        label: 'POST /api/v1/flows (a new flow per request)',
        url: api,
        requests: [
          {
            method: 'POST',
            path: '/api/v1/flows',
            headers: yamlHeaders,
            setupRequest: (request) => ({ ...request, body: flowYaml(`flow-${process.pid}-${counter++}`) }),
          },
        ],
      },
    ];

    // Warm-up: JIT, connection pools, Postgres caches.
    for (const c of cases) await autocannon({ url: c.url, connections, duration: 2, ...(c.requests ? { requests: c.requests } : {}) });

    const rows: string[] = [];
    let baselineRate = NaN;
    for (const c of cases) {
      const result = await autocannon({ url: c.url, connections, duration: seconds, ...(c.requests ? { requests: c.requests } : {}) });
      const failures = result.non2xx + result.errors + result.timeouts;
      if (Number.isNaN(baselineRate)) baselineRate = result.requests.average;
      rows.push(
        `| ${c.label} | ${result.requests.total} | ${result.requests.average.toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} | ` +
          `${(result.requests.average / baselineRate).toFixed(2)}x | ${failures} |`,
      );
    }
    console.log(`REST API on loopback: ${seconds} s per case, ${connections} connections, after a 2 s warm-up each`);
    console.log(`machine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; Postgres ${new URL(adminUrl).host}`);
    console.log('');
    console.log('| case | requests | req/s (mean) | p50 ms | p99 ms | ratio to baseline (req/s) | non-2xx/errors |');
    console.log('|---|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
    console.log(`\nflows created during the run: ${counter}`);
  } finally {
    child.disconnect();
    await new Promise((resolve) => child.once('exit', resolve));
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  }
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3] ?? '');
} else {
  await main();
}
