// The spawn floor of bench:e2e (issue #20), measured in a small Node process of its own: fork() copies the parent's
// memory map, so a spawn from the bench process (tsx, pg, BullMQ loaded) costs more than one from a small process,
// and the floor is the small process's. Asked over IPC:
// - { op: 'one' } → { ms }: one `sh -c true`, spawned until it exits;
// - { op: 'ceiling', total, concurrency } → { rate }: `total` of them, `concurrency` at a time, shells per second.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

function spawnTrue() {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'true'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', resolve);
  });
}

process.on('message', async (message) => {
  if (message.op === 'one') {
    const start = performance.now();
    await spawnTrue();
    process.send({ ms: performance.now() - start });
  } else if (message.op === 'ceiling') {
    let next = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(message.concurrency, message.total) }, async () => {
        while (next < message.total) {
          next++;
          await spawnTrue();
        }
      }),
    );
    process.send({ rate: (message.total / (performance.now() - start)) * 1000 });
  }
});
process.on('disconnect', () => process.exit(0));
