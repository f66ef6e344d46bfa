// One role of bench:hops (issue #20): the hops of a one-task execution in distributed mode, with nothing else. Run as
// `node bench/hops-role.mjs <api|worker|scheduler>` with DATABASE_URL and REDIS_URL; prints `ready <port>` when it
// serves. Plain ESM with no build and no Sluice code, so its CPU is the architecture's and the libraries', not ours:
// - api: an HTTP POST → one INSERT (the execution) → one BullMQ add (the task) → waits for the end on a Redis
//   channel → answers a small JSON body;
// - worker: a BullMQ worker (concurrency 16) whose task takes a lease on its run (a Lua compare-and-set with a TTL,
//   as Sluice's worker does so that a run is never live twice), adds one result job, as a Log task's report, and
//   marks the lease done;
// - scheduler: a BullMQ worker (concurrency 16) on the results: one statement (the task run's row and the execution's
//   state, in one implicit transaction), then a PUBLISH of the end.
// No kill check, no state history, no log line, no outputs, no retries, no validation: each is a cost Sluice
// pays on top of these hops.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const role = process.argv[2];
const redisUrl = process.env.REDIS_URL;
const databaseUrl = process.env.DATABASE_URL;
if (!redisUrl || !databaseUrl) throw new Error('REDIS_URL and DATABASE_URL must be set');
const PREFIX = 'hops';
const CONCURRENCY = 16;
const redis = () => new Redis(redisUrl, { maxRetriesPerRequest: null });

if (role === 'api') {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const tasks = new Queue('tasks', { connection: redis(), prefix: PREFIX });
  const waiting = new Map();
  const subscriber = redis();
  await subscriber.subscribe('ends');
  subscriber.on('message', (_channel, message) => {
    const end = JSON.parse(message);
    const answer = waiting.get(end.id);
    waiting.delete(end.id);
    answer?.(end);
  });
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', async () => {
      try {
        const id = randomBytes(16).toString('base64url');
        const ended = new Promise((resolve) => waiting.set(id, resolve));
        await pool.query({ name: 'insert', text: "INSERT INTO executions (id, state, created) VALUES ($1, 'CREATED', now())", values: [id] });
        await tasks.add('t', { executionId: id, taskId: 't' }, { removeOnComplete: true, removeOnFail: true });
        const end = await ended;
        const body = JSON.stringify({ id, state: { current: end.state } });
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        response.end(body);
      } catch (error) {
        response.writeHead(500);
        response.end(String(error));
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(`ready ${server.address().port}`));
} else if (role === 'worker') {
  const results = new Queue('results', { connection: redis(), prefix: PREFIX });
  const leases = redis();
  const holder = `run\n${process.pid}`;
  const TAKE = "local v = redis.call('GET', KEYS[1]) if v and v ~= ARGV[1] then return 0 end redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";
  const DONE = "local v = redis.call('GET', KEYS[1]) if v and v ~= ARGV[1] then return 0 end redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1";
  const worker = new Worker(
    'tasks',
    async (job) => {
      const lease = `${PREFIX}:lease:${job.id}`;
      if ((await leases.eval(TAKE, 1, lease, holder, 60_000)) !== 1) throw new Error(`the lease of job ${job.id} is held by another worker`);
      await results.add('r', { executionId: job.data.executionId, taskRunId: randomBytes(16).toString('base64url'), state: 'SUCCESS' }, { removeOnComplete: true, removeOnFail: true });
      await leases.eval(DONE, 1, lease, holder, 'done', 3_600_000);
    },
    { connection: redis(), prefix: PREFIX, concurrency: CONCURRENCY },
  );
  await worker.waitUntilReady();
  console.log('ready');
} else if (role === 'scheduler') {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const publisher = redis();
  const worker = new Worker(
    'results',
    async (job) => {
      const { executionId, taskRunId, state } = job.data;
      await pool.query({
        name: 'step',
        text: 'WITH run AS (INSERT INTO task_runs (id, execution_id, state) VALUES ($1, $2, $3)) UPDATE executions SET state = $3, ended = now() WHERE id = $2',
        values: [taskRunId, executionId, state],
      });
      await publisher.publish('ends', JSON.stringify({ id: executionId, state }));
    },
    { connection: redis(), prefix: PREFIX, concurrency: CONCURRENCY },
  );
  await worker.waitUntilReady();
  console.log('ready');
} else {
  throw new Error(`unknown role ${role}: api, worker or scheduler`);
}
process.on('SIGTERM', () => process.exit(0));
