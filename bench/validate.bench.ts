/**
 * Flow validation speed. Validates a generated flow of N tasks (default 500: WorkingDirectory groups of Clone +
 * Commands + LocalFiles, Logs with expressions, retries and timeouts) and prints timings side by side with two
 * baselines: parsing the same YAML with the `yaml` package alone (what a validator that needs positions for every
 * node pays before doing anything) and with js-yaml alone (the floor: parsing without positions).
 *
 *   npm run bench -- [tasks=500] [iterations=200]
 */
import { performance } from 'node:perf_hooks';
import { CORE_SCHEMA, load } from 'js-yaml';
import { parseAllDocuments } from 'yaml';
import { createFlowValidator } from '@sluice/core';
import { createDefaultRegistries } from '@sluice/plugins';

const taskCount = Number(process.argv[2] ?? 500);
const iterations = Number(process.argv[3] ?? 200);

function generateFlow(tasks: number): string {
  const lines = ['id: bench_flow', 'namespace: bench', 'inputs:', '  - id: name', '    type: STRING', '    defaults: world', 'tasks:'];
  let made = 0;
  let group = 0;
  while (made < tasks) {
    if (tasks - made >= 4) {
      lines.push(
        `  - id: wdir_${group}`,
        '    type: io.kestra.plugin.core.flow.WorkingDirectory',
        '    tasks:',
        `      - id: clone_${group}`,
        '        type: io.kestra.plugin.git.Clone',
        `        url: https://git.example.com/repo-${group}.git`,
        '        branch: main',
        `      - id: run_${group}`,
        '        type: io.kestra.plugin.scripts.python.Commands',
        '        runner: PROCESS',
        '        timeout: PT5M',
        '        retry: {type: constant, interval: PT1S, maxAttempt: 3}',
        '        env:',
        `          NAME: "{{ inputs.name | upper }}-${group}"`,
        '        commands:',
        `          - python step_${group}.py --name "{{ inputs.name }}"`,
        `      - id: out_${group}`,
        '        type: io.kestra.plugin.core.storage.LocalFiles',
        '        outputs: ["*.csv"]',
      );
      made += 4;
    } else {
      lines.push(`  - id: log_${made}`, '    type: io.kestra.plugin.core.log.Log', `    message: "step {{ execution.id }} ${made}"`);
      made += 1;
    }
    group++;
  }
  return lines.join('\n') + '\n';
}

function measure(label: string, run: () => void): { label: string; p50: number; p99: number; mean: number } {
  for (let i = 0; i < Math.min(20, iterations); i++) run(); // warm up the JIT and ajv's compiled validators
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const pick = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? Number.NaN;
  return { label, p50: pick(0.5), p99: pick(0.99), mean: times.reduce((a, b) => a + b, 0) / times.length };
}

const source = generateFlow(taskCount);
const setupStart = performance.now();
const validator = createFlowValidator(createDefaultRegistries());
const setupMs = performance.now() - setupStart;

const [check] = validator.validateSource(source);
if (!check || check.problems.length > 0) {
  console.error('generated flow is invalid:', check?.problems.slice(0, 3));
  process.exit(1);
}

const baseline = measure('baseline: `yaml` package parse only', () => {
  for (const doc of parseAllDocuments(source) as ReturnType<typeof parseAllDocuments> & unknown[]) doc.toJS();
});
const floor = measure('baseline: js-yaml parse only', () => {
  load(source, { schema: CORE_SCHEMA });
});
const full = measure('sluice validateSource', () => {
  validator.validateSource(source);
});

console.log(`flow: ${taskCount} tasks, ${source.length} bytes; ${iterations} iterations; Node ${process.version}`);
console.log(`validator setup (registry + ajv compile, once per process): ${setupMs.toFixed(1)} ms`);
console.log('| run | p50 ms | p99 ms | mean ms | ratio to baseline (p50) |');
console.log('|---|---|---|---|---|');
for (const r of [baseline, floor, full]) {
  console.log(`| ${r.label} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.mean.toFixed(2)} | ${(r.p50 / baseline.p50).toFixed(2)}x |`);
}
