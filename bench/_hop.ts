import { fork } from 'node:child_process';
import { createBullmqQueue } from '@sluice/queue';
import { Queue, Worker } from 'bullmq';
const url = process.argv[3] ?? 'redis://127.0.0.1:6399';
const role = process.argv[2];
if (role === 'consumer') {
  const q = createBullmqQueue({ url, prefix: 'hop' });
  q.consumeExecutions({ concurrency: 4 }, async (m) => { process.send!({ at: performance.timeOrigin + performance.now(), id: m.executionId }); });
  const w = new Worker('bare', async (job) => { process.send!({ at: performance.timeOrigin + performance.now(), id: job.data.id }); }, { connection: { host: '127.0.0.1', port: Number(new URL(url).port), maxRetriesPerRequest: null }, prefix: 'hopbare', concurrency: 4 });
  process.send!({ ready: true });
} else {
  const child = fork(new URL(import.meta.url).pathname, ['consumer', url], { execArgv: process.execArgv });
  const waiters = new Map<string, (at: number) => void>();
  child.on('message', (m: any) => { if (m.id) waiters.get(m.id)?.(m.at); });
  await new Promise((r) => child.once('message', r));
  await new Promise((r) => setTimeout(r, 500));
  const q = createBullmqQueue({ url, prefix: 'hop' });
  const bare = new Queue('bare', { connection: { host: '127.0.0.1', port: Number(new URL(url).port), maxRetriesPerRequest: null }, prefix: 'hopbare' });
  const res: Record<string, number[]> = { driver: [], bare: [] };
  for (let i = 0; i < 300; i++) {
    for (const kind of ['driver', 'bare']) {
      const id = `${kind}-${i}`;
      const got = new Promise<number>((r) => waiters.set(id, r));
      const t0 = performance.timeOrigin + performance.now();
      if (kind === 'driver') await q.publishExecution({ type: 'created', executionId: id });
      else await bare.add('x', { id });
      res[kind]!.push((await got) - t0);
    }
  }
  for (const [k, v] of Object.entries(res)) { v.sort((a, b) => a - b); console.log(k, 'p50', v[150]!.toFixed(2), 'p90', v[270]!.toFixed(2)); }
  child.kill(); process.exit(0);
}
