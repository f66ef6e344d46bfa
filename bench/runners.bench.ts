/**
 * Per-task overhead of each runner against its raw baseline, measured in the same run, side by side:
 * - PROCESS runner running `true`, started by its compiled spawner (`spawn: 'native'`, what the default `auto`
 *   picks when `cc` can build it), by its Node helper process (`spawn: 'helper'`) and directly from this process
 *   (`spawn: 'direct'`), vs a bare `child_process.spawn('/bin/sh', ['-c', 'true'])`. Besides
 *   the latency, what the PARENT pays per command: its CPU time (`process.cpuUsage`, all threads) and how long its
 *   event loop was busy (`performance.eventLoopUtilization`, mean and worst command), then in a second pass the
 *   worst event-loop delay seen by a 1 ms timer (`monitorEventLoopDelay`): the longest block, which is what
 *   other work sharing the loop (API, scheduler) feels. Forking costs more the larger the forking process: give
 *   `ballastMb` to make this process as large as a busy worker (300–450 MB).
 * - DOCKER runner running `true` in the busybox test image vs `docker run --rm --network none IMAGE true` (the CLI).
 * Runs alternate between the sides so that machine noise hits them alike. Needs the test services
 * (`bash scripts/services.sh`) for the DOCKER part.
 *
 *   npm run bench:runners -- [processRuns=200] [dockerRuns=20] [ballastMb=0]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Runner } from '@sluice/plugin-api';
import { dockerRunner } from '@sluice/runner-docker';
import { processRunner } from '@sluice/runner-process';

const processRuns = Number(process.argv[2] ?? 200);
const dockerRuns = Number(process.argv[3] ?? 20);
const ballastMb = Number(process.argv[4] ?? 0);
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

interface Sample {
  readonly ms: number;
  readonly cpuMs: number;
  readonly loopMs: number;
}

async function sample(fn: () => Promise<unknown>): Promise<Sample> {
  const loop = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000, loopMs: performance.eventLoopUtilization(loop).active };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Latency, parent CPU and event-loop figures of each side; runs go round-robin over the sides. */
async function compareSpawns(runs: number, sides: readonly (readonly [string, () => Promise<unknown>])[]): Promise<string[]> {
  for (let i = 0; i < 3; i++) for (const [, fn] of sides) await fn();
  const samples = sides.map(() => [] as Sample[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, [, fn]] of sides.entries()) samples[k]!.push(await sample(fn));
  }
  // Second pass, apart: the 1 ms timer of the delay histogram costs CPU of its own.
  const delays: number[] = [];
  for (const [, fn] of sides) {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    for (let i = 0; i < Math.max(10, Math.floor(runs / 4)); i++) await fn();
    histogram.disable();
    delays.push(histogram.max / 1e6);
  }
  return sides.map(([label], k) => {
    const s = samples[k]!;
    const ms = s.map((x) => x.ms);
    const loop = s.map((x) => x.loopMs);
    const cells = [median(ms), p90(ms), mean(s.map((x) => x.cpuMs)), mean(loop), Math.max(...loop), delays[k]!];
    return `| ${label} | ${runs} | ${cells.map((x) => x.toFixed(2)).join(' | ')} |`;
  });
}

// Resident pages make fork slower: touch every page of the ballast.
const ballast = Array.from({ length: Math.ceil(ballastMb / 64) }, () => Buffer.alloc(64 * 1024 * 1024, 1));

const workingDirectory = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
const processRows = await compareSpawns(processRuns, [
  ["bare spawn('/bin/sh', ['-c', 'true'])", () => spawnAndWait('/bin/sh', ['-c', 'true'])],
  ['PROCESS runner, spawn: direct', () => runnerOnce(processRunner.create!({ spawn: 'direct' }), workingDirectory)],
  ['PROCESS runner, spawn: helper', () => runnerOnce(processRunner.create!({ spawn: 'helper' }), workingDirectory)],
  ['PROCESS runner, spawn: native', () => runnerOnce(processRunner.create!({ spawn: 'native' }), workingDirectory)],
]);
const rows: string[] = [];
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
const rssMb = process.memoryUsage().rss / 2 ** 20;
console.log(`Node ${process.version}; this process: ${rssMb.toFixed(0)} MB RSS (ballast ${ballast.length * 64} MB); times in ms`);
console.log('');
console.log('| PROCESS: `true` | runs | p50 | p90 | parent CPU / cmd | loop busy / cmd (mean) | loop busy / cmd (max) | loop delay max |');
console.log('|---|---|---|---|---|---|---|---|');
for (const row of processRows) console.log(row);
if (rows.length > 0) {
  console.log('');
  console.log('| comparison | runs | baseline median | runner median | baseline p90 | runner p90 | ratio (medians) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}
