/**
 * Per-task overhead of each runner against its raw baseline, measured in the same run, side by side:
 * - PROCESS runner running `true` vs a bare `child_process.spawn('/bin/sh', ['-c', 'true'])`;
 * - DOCKER runner running `true` in the busybox test image vs `docker run --rm --network none IMAGE true` (the CLI).
 * Runs alternate between the two sides so that machine noise hits both alike. Needs the test services
 * (`bash scripts/services.sh`) for the DOCKER part.
 *
 *   npm run bench:runners -- [processRuns=200] [dockerRuns=20]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Runner } from '@sluice/plugin-api';
import { dockerRunner } from '@sluice/runner-docker';
import { processRunner } from '@sluice/runner-process';

const processRuns = Number(process.argv[2] ?? 200);
const dockerRuns = Number(process.argv[3] ?? 20);
const image = process.env.SLUICE_TEST_BUSYBOX_IMAGE ?? 'sluice-test/busybox:1';

function spawnAndWait(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
}

async function runnerOnce(runner: Runner, workingDirectory: string, extra: { image?: string; options?: Record<string, unknown> } = {}): Promise<void> {
  const result = await runner.run(
    { commands: ['true'], workingDirectory, ...extra },
    { onStdout: () => undefined, onStderr: () => undefined },
    new AbortController().signal,
  );
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}`);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};
const p90 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] ?? NaN;

async function compare(label: string, runs: number, baseline: () => Promise<unknown>, subject: () => Promise<unknown>): Promise<string> {
  for (let i = 0; i < 3; i++) {
    await baseline();
    await subject();
  }
  const base: number[] = [];
  const sub: number[] = [];
  for (let i = 0; i < runs; i++) {
    base.push(await timed(baseline));
    sub.push(await timed(subject));
  }
  const ratio = median(sub) / median(base);
  return `| ${label} | ${runs} | ${median(base).toFixed(1)} | ${median(sub).toFixed(1)} | ${p90(base).toFixed(1)} | ${p90(sub).toFixed(1)} | ${ratio.toFixed(2)}x |`;
}

const workingDirectory = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
const rows: string[] = [];
rows.push(
  await compare(
    "PROCESS runner vs spawn('/bin/sh', ['-c', 'true'])",
    processRuns,
    () => spawnAndWait('/bin/sh', ['-c', 'true']),
    () => runnerOnce(processRunner.create!({}), workingDirectory),
  ),
);
if (dockerRuns > 0) {
  const docker = dockerRunner.create!({ networkMode: 'none' });
  rows.push(
    await compare(
      'DOCKER runner vs `docker run --rm --network none`',
      dockerRuns,
      () => spawnAndWait('docker', ['run', '--rm', '--network', 'none', image, 'true']),
      () => runnerOnce(docker, workingDirectory, { image, options: { networkMode: 'none' } }),
    ),
  );
}
await rm(workingDirectory, { recursive: true, force: true });
console.log(`Node ${process.version}; runs alternate baseline/runner; times in ms`);
console.log('| comparison | runs | baseline median | runner median | baseline p90 | runner p90 | ratio (medians) |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
