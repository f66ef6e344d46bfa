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
// With HOPS_RESULTS=stream, the results go over a Redis stream instead of a BullMQ queue: the worker XADDs each, the
// scheduler reads them with XREADGROUP (up to 16 in hand) and, once applied, XACKs and XDELs each in one round trip.
// HOPS_TASKS=stream does the same for the task jobs, from the API to the worker.
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
for (const name of ['HOPS_RESULTS', 'HOPS_TASKS']) {
  if (!['stream', 'bullmq', undefined].includes(process.env[name])) throw new Error(`${name} must be bullmq or stream, not ${process.env[name]}`);
}
const RESULTS_ON_STREAM = process.env.HOPS_RESULTS === 'stream';
const TASKS_ON_STREAM = process.env.HOPS_TASKS === 'stream';
const RESULTS_STREAM = `${PREFIX}:results-stream`;
const TASKS_STREAM = `${PREFIX}:tasks-stream`;

/** Reads `stream` as one consumer of its group, up to CONCURRENCY entries in hand; each is acked and deleted once handled. */
async function consumeStream(stream, handler) {
  const reader = redis();
  const acker = redis();
  await acker.xgroup('CREATE', stream, 'consumers', '$', 'MKSTREAM').catch((error) => {
    if (!String(error).includes('BUSYGROUP')) throw error;
  });
  let inHand = 0;
  let slotFree;
  const handle = async (id, text) => {
    await handler(JSON.parse(text));
    await acker.multi().xack(stream, 'consumers', id).xdel(stream, id).exec();
  };
  void (async () => {
    for (;;) {
      if (inHand >= CONCURRENCY) {
        await new Promise((resolve) => (slotFree = resolve));
        continue;
      }
      const reply = await reader.xreadgroup('GROUP', 'consumers', String(process.pid), 'COUNT', CONCURRENCY - inHand, 'BLOCK', 1000, 'STREAMS', stream, '>');
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        inHand++;
        handle(id, fields[1])
          .catch((error) => console.error(`${stream} ${id}: ${error}`))
          .finally(() => {
            inHand--;
            slotFree?.();
            slotFree = undefined;
          });
      }
    }
  })();
}

if (role === 'api') {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const tasks = TASKS_ON_STREAM ? undefined : new Queue('tasks', { connection: redis(), prefix: PREFIX });
  const adder = TASKS_ON_STREAM ? redis() : undefined;
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
        if (tasks) await tasks.add('t', { executionId: id, taskId: 't' }, { removeOnComplete: true, removeOnFail: true });
        else await adder?.xadd(TASKS_STREAM, '*', 't', JSON.stringify({ id: randomBytes(16).toString('base64url'), executionId: id, taskId: 't' }));
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
  const results = RESULTS_ON_STREAM ? undefined : new Queue('results', { connection: redis(), prefix: PREFIX });
  const leases = redis();
  const holder = `run\n${process.pid}`;
  const TAKE = "local v = redis.call('GET', KEYS[1]) if v and v ~= ARGV[1] then return 0 end redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";
  const DONE = "local v = redis.call('GET', KEYS[1]) if v and v ~= ARGV[1] then return 0 end redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1";
  const run = async (job) => {
    const lease = `${PREFIX}:lease:${job.id}`;
    if ((await leases.eval(TAKE, 1, lease, holder, 60_000)) !== 1) throw new Error(`the lease of job ${job.id} is held by another worker`);
    const result = { executionId: job.data.executionId, taskRunId: randomBytes(16).toString('base64url'), state: 'SUCCESS' };
    if (results) await results.add('r', result, { removeOnComplete: true, removeOnFail: true });
    else await leases.xadd(RESULTS_STREAM, '*', 'r', JSON.stringify(result));
    await leases.eval(DONE, 1, lease, holder, 'done', 3_600_000);
  };
  if (TASKS_ON_STREAM) await consumeStream(TASKS_STREAM, (data) => run({ id: data.id, data }));
  else await new Worker('tasks', run, { connection: redis(), prefix: PREFIX, concurrency: CONCURRENCY }).waitUntilReady();
  console.log('ready');
} else if (role === 'scheduler') {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  const publisher = redis();
  const apply = async ({ executionId, taskRunId, state }) => {
    await pool.query({
      name: 'step',
      text: 'WITH run AS (INSERT INTO task_runs (id, execution_id, state) VALUES ($1, $2, $3)) UPDATE executions SET state = $3, ended = now() WHERE id = $2',
      values: [taskRunId, executionId, state],
    });
    await publisher.publish('ends', JSON.stringify({ id: executionId, state }));
  };
  if (RESULTS_ON_STREAM) {
    await consumeStream(RESULTS_STREAM, apply);
    console.log('ready');
  } else {
    const worker = new Worker('results', (job) => apply(job.data), { connection: redis(), prefix: PREFIX, concurrency: CONCURRENCY });
    await worker.waitUntilReady();
    console.log('ready');
  }
} else {
  throw new Error(`unknown role ${role}: api, worker or scheduler`);
}
process.on('SIGTERM', () => process.exit(0));
