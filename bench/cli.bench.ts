/**
 * How long the `sluice` command takes to start and finish, as a user types it (issue #14): wall time of whole
 * commands, each run `--runs` times (default 20), median and p90, side by side with `node -e 0` measured in the same
 * run (the floor: starting Node itself). Every command runs through the real launcher, `node apps/cli/bin/sluice.mjs`,
 * which is what `npx sluice` runs (npx adds its own start-up on top; measured once, `npx sluice --version`, for
 * reference).
 *
 * - `sluice --version`;
 * - `sluice flow validate examples/hello.yml` (one file);
 * - `sluice run` of a flow with one Log task (no server: the in-process engine and worker);
 * and, with `--source`, the same through the TypeScript sources (tsx), as a checkout with an edited file runs them.
 *
 * Targets (issue #14): validate within 0.35 s, --version within 0.2 s, on the project's 2-core machine.
 * The launcher uses dist/ only when it is newer than the sources: run `npm run build` first (npm ci does).
 *
 *   npm run bench:cli -- [--runs 20] [--source]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, source: { type: 'boolean', default: false } } });
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs must be a whole number >= 1, got ${String(values.runs)}`);

const root = fileURLToPath(new URL('..', import.meta.url));
const launcher = join(root, 'apps/cli/bin/sluice.mjs');
const work = mkdtempSync(join(tmpdir(), 'sluice-bench-cli-'));
const oneLog = join(work, 'one-log.yml');
writeFileSync(oneLog, 'id: one_log\nnamespace: bench\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hello\n');

interface Case {
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly target?: number;
  /** Default: a scratch folder (the flow paths are absolute). */
  readonly cwd?: string;
}

/** Wall time of one run, in seconds; throws with its output if it fails. */
function once(c: Case): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(c.command, [...c.args], { cwd: c.cwd ?? work, env: { ...process.env, ...c.env }, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${c.label} exited ${String(result.status)}: ${result.stderr || result.stdout}`);
  return seconds;
}

function measure(c: Case, runs: number): { median: number; p90: number } {
  once(c); // warm the page cache (and tsx's transform cache): a user's second run, not a cold disk
  const times = Array.from({ length: runs }, () => once(c)).sort((a, b) => a - b);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN;
  return { median: at(0.5), p90: at(0.9) };
}

const node = process.execPath;
const sluice = (label: string, args: string[], target?: number, env?: Record<string, string>): Case => ({
  label,
  command: node,
  args: [launcher, ...args],
  ...(env ? { env } : {}),
  ...(target === undefined ? {} : { target }),
});
const cases: Case[] = [
  { label: 'node -e 0 (baseline)', command: node, args: ['-e', '0'] },
  sluice('sluice --version', ['--version'], 0.2),
  sluice('sluice flow validate one.yml', ['flow', 'validate', join(root, 'examples/hello.yml')], 0.35),
  sluice('sluice run one-Log flow', ['run', oneLog]),
];
if (values.source) {
  const src = { SLUICE_CLI_SOURCE: '1' };
  cases.push(
    sluice('sources (tsx): --version', ['--version'], undefined, src),
    sluice('sources (tsx): flow validate one.yml', ['flow', 'validate', join(root, 'examples/hello.yml')], undefined, src),
    sluice('sources (tsx): run one-Log flow', ['run', oneLog], undefined, src),
  );
}

console.log(`# sluice CLI start-up: ${RUNS} runs each, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('');
console.log('| command | median (s) | p90 (s) | median − node -e 0 (s) | target (s) |');
console.log('|---|---|---|---|---|');
let baseline = NaN;
let missed = 0;
try {
  for (const c of cases) {
    const { median, p90 } = measure(c, RUNS);
    if (Number.isNaN(baseline)) baseline = median;
    const verdict = c.target === undefined ? '' : `${c.target} ${median <= c.target ? '(met)' : '(MISSED)'}`;
    if (c.target !== undefined && median > c.target) missed++;
    console.log(`| ${c.label} | ${median.toFixed(3)} | ${p90.toFixed(3)} | ${(median - baseline).toFixed(3)} | ${verdict} |`);
  }
  const npx = measure({ label: 'npx', command: 'npx', args: ['--no-install', 'sluice', '--version'], cwd: root, env: { npm_config_update_notifier: 'false' } }, Math.min(RUNS, 5));
  console.log(`| npx sluice --version (for reference: npx's own start-up added) | ${npx.median.toFixed(3)} | ${npx.p90.toFixed(3)} | ${(npx.median - baseline).toFixed(3)} | |`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log('');
console.log(missed === 0 ? 'every target met' : `${missed} target(s) missed`);
