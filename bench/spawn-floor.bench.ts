/**
 * What starting one process costs on this machine, in CPU time, whoever starts it: the floor under the PROCESS
 * runner's per-task cost, and so under end-to-end throughput (issue #5). Each case starts `/bin/sh -c true` N times
 * and reports the CPU time of the starter and of its children (utime + stime from /proc, 10 ms ticks; children's
 * time counts once they are reaped) per process started, and the wall time per process:
 * - `sh` loop: a dash process starting them one after the other (the smallest starter there is here);
 * - Node `spawn()` from a fresh node process, then from one holding `--ballast` MB (a worker's size);
 * - the PROCESS runner's spawners, through the runner itself (the CPU is the spawner's): the compiled one
 *   (`spawner.c`, posix_spawn, `spawn: 'native'`) and the Node helper (`spawner.cjs`, `spawn: 'helper'`).
 *
 * Then the ceiling (`--parallel K`, default 32; 0 skips it): how many `sh -c true` this machine starts per second
 * when K run at once and nothing else runs, from K `sh` loops and through the PROCESS runner's compiled spawner
 * (with the runner's own work: pipes, the group check). No end-to-end throughput can beat it, since every one-task
 * PROCESS execution starts one such shell.
 *
 *   npm run bench:spawn -- [N=400] [--ballast 300] [--parallel 32] [--ceiling-runs 4000]
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { createProcessRunner, helperPid, nativeSpawnerPid } from '@sluice/runner-process';

const { values, positionals } = parseArgs({ allowPositionals: true, options: {
    ballast: { type: 'string', default: '300' },
    parallel: { type: 'string', default: '32' },
    'ceiling-runs': { type: 'string', default: '4000' },
  },
});
const N = Number(positionals[0] ?? 400);
const BALLAST_MB = Number(values.ballast);
const PARALLEL = Number(values.parallel);
const CEILING_RUNS = Number(values['ceiling-runs']);
for (const [name, value] of [['N', N], ['--ballast', BALLAST_MB], ['--parallel', PARALLEL], ['--ceiling-runs', CEILING_RUNS]] as const) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer >= 0, got ${String(value)}`);
}
const TICK_MS = 10;

async function cpuOf(pid: number): Promise<{ self: number; children: number; rssMb: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(f[i] ?? NaN);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  return { self: (n(11) + n(12)) * TICK_MS, children: (n(13) + n(14)) * TICK_MS, rssMb: rssKb / 1024 };
}

interface Row {
  readonly label: string;
  readonly rssMb: number;
  readonly starterMs: number;
  readonly childMs: number;
  readonly wallMs: number;
}

const row = (r: Row): string =>
  `| ${r.label} | ${r.rssMb.toFixed(0)} | ${r.starterMs.toFixed(2)} | ${r.childMs.toFixed(2)} | ${(r.starterMs + r.childMs).toFixed(2)} | ${r.wallMs.toFixed(2)} |`;

/** A starter process that runs `script` (which starts N shells, then waits), measured from outside. */
async function external(label: string, command: string, args: string[], ready: RegExp): Promise<Row> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const pid = child.pid ?? -1;
  await new Promise<void>((resolve) => {
    const check = (): void => (ready.test(out) ? resolve() : void setTimeout(check, 5));
    check();
  });
  const before = await cpuOf(pid);
  const start = performance.now();
  child.stdin.write('go\n');
  await new Promise<void>((resolve) => {
    const check = (): void => (/done/.test(out) ? resolve() : void setTimeout(check, 2));
    check();
  });
  const wall = performance.now() - start;
  const after = await cpuOf(pid);
  child.stdin.end();
  await new Promise((resolve) => child.once('close', resolve));
  return { label, rssMb: after.rssMb, starterMs: (after.self - before.self) / N, childMs: (after.children - before.children) / N, wallMs: wall / N };
}

/** Node spawn() from a node process holding `ballastMb` of touched memory. */
function nodeStarter(ballastMb: number): Promise<Row> {
  const script = `
    const { spawn } = require('node:child_process');
    const ballast = []; for (let i = 0; i < ${ballastMb}; i++) ballast.push(Buffer.alloc(1 << 20, 1));
    const once = () => new Promise((r) => spawn('/bin/sh', ['-c', 'true'], { detached: true, stdio: 'ignore' }).once('close', r));
    (async () => { for (let i = 0; i < 20; i++) await once(); process.stdout.write('ready\\n');
      process.stdin.once('data', async () => { for (let i = 0; i < ${N}; i++) await once(); process.stdout.write('done\\n'); }); })();`;
  return external(`Node spawn() from a node process${ballastMb > 0 ? ` + ${ballastMb} MB` : ''}`, process.execPath, ['-e', script], /ready/);
}

/** The PROCESS runner with one of its spawner processes, which starts the shells and is measured. */
async function runnerSpawner(spawn: 'native' | 'helper'): Promise<Row> {
  const runner = createProcessRunner({ spawn });
  const once = async (): Promise<void> => {
    const result = await runner.run({ commands: ['true'], workingDirectory: tmpdir() }, { onStdout: () => undefined, onStderr: () => undefined }, new AbortController().signal);
    if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}`);
  };
  for (let i = 0; i < 20; i++) await once();
  const pid = (spawn === 'native' ? nativeSpawnerPid() : helperPid()) ?? -1;
  const before = await cpuOf(pid);
  const start = performance.now();
  for (let i = 0; i < N; i++) await once();
  const wall = performance.now() - start;
  const after = await cpuOf(pid);
  const label = spawn === 'native' ? "the PROCESS runner's compiled spawner (spawner.c)" : "the PROCESS runner's Node helper (spawner.cjs)";
  return { label, rssMb: after.rssMb, starterMs: (after.self - before.self) / N, childMs: (after.children - before.children) / N, wallMs: wall / N };
}

console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
if (N > 0) {
  console.log(`\n# Starting one process: CPU per \`/bin/sh -c true\`, ${N} each, one at a time\n`);
  console.log('| starter | starter RSS MiB | starter CPU ms | child CPU ms | total CPU ms | wall ms |');
  console.log('|---|---|---|---|---|---|');
  const shLoop = `read go; i=0; while [ $i -lt ${N} ]; do /bin/sh -c true; i=$((i+1)); done; echo done; read end`;
  console.log(row(await external('a `sh` loop (dash)', '/bin/sh', ['-c', `echo ready; ${shLoop}`], /ready/)));
  console.log(row(await runnerSpawner('native')));
  console.log(row(await runnerSpawner('helper')));
  console.log(row(await nodeStarter(0)));
  if (BALLAST_MB > 0) console.log(row(await nodeStarter(BALLAST_MB)));
}
/** Total CPU time (ms) of every process on the machine: user + nice + system + irq + softirq + steal from /proc/stat. */
async function machineCpuMs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy * TICK_MS;
}

interface CeilingRow {
  readonly label: string;
  readonly perSecond: number;
  readonly machineCpuMs: number;
}

const ceilingRow = (r: CeilingRow): string => `| ${r.label} | ${r.perSecond.toFixed(0)} | ${r.machineCpuMs.toFixed(2)} |`;

/** K `sh` loops at once, each starting its share of `runs` shells. */
async function shCeiling(k: number, runs: number): Promise<CeilingRow> {
  const each = Math.ceil(runs / k);
  const loop = `i=0; while [ $i -lt ${each} ]; do /bin/sh -c true; i=$((i+1)); done`;
  const cpuBefore = await machineCpuMs();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: k }, () => new Promise<void>((resolve, reject) => spawn('/bin/sh', ['-c', loop], { stdio: 'ignore' }).once('close', (code) => (code === 0 ? resolve() : reject(new Error(`sh loop exit ${code}`)))))),
  );
  const seconds = (performance.now() - start) / 1000;
  return { label: `${k} \`sh\` loops`, perSecond: (each * k) / seconds, machineCpuMs: ((await machineCpuMs()) - cpuBefore) / (each * k) };
}

/** The PROCESS runner (compiled spawner) with `k` runs in flight, as a worker would have them. */
async function runnerCeiling(k: number, runs: number): Promise<CeilingRow> {
  const runner = createProcessRunner({ spawn: 'native' });
  const once = async (): Promise<void> => {
    const result = await runner.run({ commands: ['true'], workingDirectory: tmpdir() }, { onStdout: () => undefined, onStderr: () => undefined }, new AbortController().signal);
    if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}`);
  };
  for (let i = 0; i < 50; i++) await once();
  let next = 0;
  const cpuBefore = await machineCpuMs();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: k }, async () => {
      while (next < runs) {
        next++;
        await once();
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return { label: `the PROCESS runner (compiled spawner), ${k} in flight`, perSecond: runs / seconds, machineCpuMs: ((await machineCpuMs()) - cpuBefore) / runs };
}

if (PARALLEL > 0 && CEILING_RUNS > 0) {
  console.log(`\n# The ceiling: \`/bin/sh -c true\` ${CEILING_RUNS} times, ${PARALLEL} at once, nothing else running`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; machine CPU counts every process (idle excluded)\n`);
  console.log('| starter | shells started per second | machine CPU ms per shell |');
  console.log('|---|---|---|');
  console.log(ceilingRow(await shCeiling(PARALLEL, CEILING_RUNS)));
  console.log(ceilingRow(await runnerCeiling(PARALLEL, CEILING_RUNS)));
}
console.log(`\nload average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('Children are charged for tearing down the copy of the starter they were forked from, so both columns grow with the starter.');
