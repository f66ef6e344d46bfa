/**
 * The REST half of scripts/compose-smoke.sh, run against the compose stack it started (read that script first):
 * starts a git server on 127.0.0.1 for the seed flow's clone, deploys the seed flows of examples/seed through the
 * REST API (only the clone URL, the image and the registry key changed, as in the e2e tests), runs them, checks
 * their outputs and where they ran, then runs the README's first flow and follows its logs.
 *
 * Prints one line per check (`ok   NAME (1.2 s)` or `FAIL NAME: reason`) and appends `pass|fail<TAB>NAME<TAB>seconds
 * <TAB>reason` to $SMOKE_RESULTS. Exit code 0 when every check passed.
 *
 * Environment: SMOKE_API_URL (http://127.0.0.1:28080), SMOKE_API_TOKEN (bearer token of the API, if any),
 * SMOKE_REGISTRY (127.0.0.1:5000), SMOKE_REGISTRY_PASSWORD (the password the flow's secret('DOCKER_PAT') holds: it
 * must never appear in logs), SMOKE_DEFAULT_WORKER_ID, SMOKE_GPU_WORKER_ID, SMOKE_RESULTS.
 *
 * Run: node --conditions=@sluice/source --import tsx scripts/compose-smoke.ts
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pointSeedAtFixtures, seedExamplesRepo, startGitServer } from '@sluice/testing';

const env = process.env;
const apiUrl = (env.SMOKE_API_URL ?? 'http://127.0.0.1:28080').replace(/\/+$/, '');
const apiToken = env.SMOKE_API_TOKEN ?? '';
const registry = env.SMOKE_REGISTRY ?? '127.0.0.1:5000';
const registryPassword = env.SMOKE_REGISTRY_PASSWORD ?? 'seed-pat-for-tests';
const defaultWorkerId = env.SMOKE_DEFAULT_WORKER_ID ?? 'smoke-worker-default';
const gpuWorkerId = env.SMOKE_GPU_WORKER_ID ?? 'smoke-worker-gpu';
const resultsFile = env.SMOKE_RESULTS;
const seedDir = fileURLToPath(new URL('../examples/seed/', import.meta.url));

interface TaskRun {
  id: string;
  taskId: string;
  state: { current: string };
  outputs?: Record<string, unknown>;
  workerGroup?: string;
  workerId?: string;
}
interface Execution {
  id: string;
  state: { current: string };
  taskRunList: TaskRun[];
}

let failures = 0;

function record(status: 'pass' | 'fail', name: string, seconds: number, reason = ''): void {
  if (resultsFile) appendFileSync(resultsFile, `${status}\t${name}\t${seconds.toFixed(1)}\t${reason.replace(/[\t\n]+/g, ' ')}\n`);
}

/** Run one check: a thrown error fails it with its message; the returned string is shown as detail. */
async function check(name: string, body: () => Promise<string | void>): Promise<boolean> {
  const started = Date.now();
  try {
    const detail = await body();
    const seconds = (Date.now() - started) / 1000;
    console.log(`ok   ${name} (${seconds.toFixed(1)} s${detail ? `; ${detail}` : ''})`);
    record('pass', name, seconds);
    return true;
  } catch (error) {
    const seconds = (Date.now() - started) / 1000;
    const reason = error instanceof Error ? error.message : String(error);
    console.log(`FAIL ${name}: ${reason}`);
    record('fail', name, seconds, reason);
    failures++;
    return false;
  }
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function api(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (apiToken) headers.set('authorization', `Bearer ${apiToken}`);
  return fetch(`${apiUrl}${path}`, { ...init, headers, signal: AbortSignal.timeout(init.timeoutMs ?? 30_000) });
}

async function json<T>(response: Response): Promise<T> {
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status} on ${response.url}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** POST /flows, or PUT when it exists (a stack that was not torn down). Resolves with the revision. */
async function deploy(yaml: string): Promise<number> {
  const headers = { 'content-type': 'application/x-yaml' };
  let response = await api('/api/v1/flows', { method: 'POST', headers, body: yaml });
  if (response.status === 409) {
    const head = /^id:\s*(\S+)\s*\nnamespace:\s*(\S+)/m.exec(yaml);
    assert(head, 'cannot find id and namespace in the flow');
    response = await api(`/api/v1/flows/${head[2]}/${head[1]}`, { method: 'PUT', headers, body: yaml });
  }
  return (await json<{ revision: number }>(response)).revision;
}

/** POST /executions/{ns}/{id}?wait=true: the ended execution. */
async function runAndWait(namespace: string, flowId: string, timeoutMs = 240_000): Promise<Execution> {
  return json<Execution>(await api(`/api/v1/executions/${namespace}/${flowId}?wait=true`, { method: 'POST', body: new FormData(), timeoutMs }));
}

async function logs(executionId: string): Promise<string> {
  const response = await api(`/api/v1/logs/${executionId}/download`);
  assert(response.ok, `logs download: HTTP ${response.status}`);
  return response.text();
}

function states(execution: Execution): string {
  return execution.taskRunList.map((t) => `${t.taskId}=${t.state.current}`).join(' ');
}

async function main(): Promise<void> {
  // The repository the seed's python_in_container clones (github.com/kestra-io/examples).
  const git = await startGitServer({ repos: { examples: seedExamplesRepo } });
  try {
    const seed = (name: string): string => readFileSync(`${seedDir}${name}.yml`, 'utf8');
    const pythonInContainer = pointSeedAtFixtures(seed('python_in_container'), { gitUrl: git.url('examples'), registryHost: registry });
    assert(pythonInContainer.includes(git.url('examples')) && pythonInContainer.includes(`${registry}/sluice/python:3`), 'the seed flow python_in_container changed: its clone URL or image was not found');

    if (apiToken) {
      await check('api refuses a request without the token', async () => {
        const response = await fetch(`${apiUrl}/api/v1/flows/search`, { signal: AbortSignal.timeout(10_000) });
        assert(response.status === 401, `expected 401, got ${response.status}`);
        return '401';
      });
    }

    await check('the web UI: / redirects to /ui/, the page and its hashed scripts are served from the image', async () => {
      const root = await fetch(`${apiUrl}/`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      assert(root.status === 302 && root.headers.get('location') === '/ui/', `GET /: ${root.status} ${root.headers.get('location')}`);
      const page = await fetch(`${apiUrl}/ui/executions`, { signal: AbortSignal.timeout(10_000) });
      const html = await page.text();
      assert(page.status === 200 && html.includes('<div id="root">'), `GET /ui/executions: ${page.status} ${html.slice(0, 200)}`);
      const scripts = [...html.matchAll(/src="(\/ui\/assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
      assert(scripts.length > 0, 'the page names no script');
      for (const script of scripts) {
        const asset = await fetch(`${apiUrl}${script}`, { headers: { 'accept-encoding': 'br, gzip' }, signal: AbortSignal.timeout(10_000) });
        assert(asset.status === 200, `GET ${script}: ${asset.status}`);
        assert(/immutable/.test(asset.headers.get('cache-control') ?? ''), `GET ${script}: cache-control ${asset.headers.get('cache-control')}`);
      }
      return `${scripts.length} script(s), immutable`;
    });

    await check('deploy the seed flows through POST /api/v1/flows', async () => {
      const revisions = [];
      for (const yaml of [pythonInContainer, seed('local_python_script'), seed('gpu_task')]) revisions.push(await deploy(yaml));
      return `revisions ${revisions.join(', ')}`;
    });

    let python: Execution | undefined;
    await check('seed python_in_container: SUCCESS (clone, python in a container from the private registry, LocalFiles)', async () => {
      python = await runAndWait('dev', 'python_in_container');
      const expected = 'wdir=SUCCESS cloneRepository=SUCCESS gitPythonScripts=SUCCESS output=SUCCESS';
      assert(python.state.current === 'SUCCESS' && states(python) === expected, `${python.state.current}: ${states(python)}; logs: ${(await logs(python.id)).slice(-800)}`);
      return python.id;
    });
    await check('python_in_container: squares.csv through GET /api/v1/executions/{id}/file', async () => {
      assert(python, 'no execution');
      const output = python.taskRunList.find((t) => t.taskId === 'output');
      const uri = (output?.outputs?.uris as Record<string, string> | undefined)?.['squares.csv'];
      assert(uri, `no squares.csv in the outputs of task output: ${JSON.stringify(output?.outputs)}`);
      const response = await api(`/api/v1/executions/${python.id}/file?path=${encodeURIComponent(uri)}`);
      const text = (await response.text()).replace(/\r\n/g, '\n');
      assert(response.ok && text === 'id,square\n1,1\n2,4\n3,9\n4,16\n5,25\n', `HTTP ${response.status}: ${JSON.stringify(text.slice(0, 200))}`);
      return uri;
    });
    await check('python_in_container: logs have the script output and never the registry password', async () => {
      assert(python, 'no execution');
      const text = await logs(python.id);
      assert(text.includes('wrote 5 rows with python 3'), `no "wrote 5 rows" line in: ${text.slice(-600)}`);
      assert(!text.includes(registryPassword), 'the registry password appears in the logs');
    });
    await check(`python_in_container ran on the default worker (${defaultWorkerId})`, async () => {
      assert(python, 'no execution');
      const ids = [...new Set(python.taskRunList.map((t) => t.workerId).filter(Boolean))];
      assert(ids.length === 1 && ids[0] === defaultWorkerId, `worker ids ${JSON.stringify(ids)}`);
    });

    await check('seed local_python_script: SUCCESS on the default worker (PROCESS, conda + python)', async () => {
      const done = await runAndWait('dev', 'local_python_script', 60_000);
      const text = await logs(done.id);
      assert(done.state.current === 'SUCCESS', `${done.state.current}: ${states(done)}; logs: ${text.slice(-600)}`);
      assert(text.includes('conda: activate myCondaEnv') && text.includes('etl ran'), `logs: ${text.slice(-600)}`);
      assert(done.taskRunList[0]?.workerId === defaultWorkerId, `worker ${done.taskRunList[0]?.workerId}`);
      return done.id;
    });

    await check(`seed gpu_task: SUCCESS on the gpu worker (${gpuWorkerId}), output accuracy 0.97`, async () => {
      const done = await runAndWait('dev', 'gpu_task', 60_000);
      const run = done.taskRunList[0];
      assert(done.state.current === 'SUCCESS', `${done.state.current}: ${states(done)}; logs: ${(await logs(done.id)).slice(-600)}`);
      assert(run?.workerGroup === 'gpu', `workerGroup ${run?.workerGroup}`);
      assert(run.workerId === gpuWorkerId, `workerId ${run.workerId}, expected ${gpuWorkerId}`);
      const vars = (run.outputs?.vars ?? {}) as Record<string, unknown>;
      assert(run.outputs?.exitCode === 0 && vars.accuracy === 0.97, `outputs ${JSON.stringify(run.outputs)}`);
      return done.id;
    });

    // The README's quick start, as a user types it: a first flow, an execution, its logs followed live.
    await check('README quick start: hello flow, execution, GET /api/v1/logs/{id}/follow until end', async () => {
      const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
      const block = /cat > hello\.yml <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(readme);
      assert(block?.[1], 'README has no `cat > hello.yml <<\'EOF\'` block');
      await deploy(`${block[1]}\n`);
      const created = await json<Execution>(await api('/api/v1/executions/tutorial/hello', { method: 'POST' }));
      const response = await api(`/api/v1/logs/${created.id}/follow`, { timeoutMs: 60_000 });
      assert(response.ok && response.body, `follow: HTTP ${response.status}`);
      let text = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        if (/^id: end$/m.test(text)) break;
      }
      assert(/^id: end$/m.test(text), `the follow stream ended without an end event: ${text.slice(-300)}`);
      assert(text.includes('Hello from Sluice'), `no "Hello from Sluice" line: ${text.slice(0, 600)}`);
      const done = await json<Execution>(await api(`/api/v1/executions/${created.id}`));
      assert(done.state.current === 'SUCCESS', `${done.state.current}: ${states(done)}`);
      return `${text.split('\nid: progress\n').length - 1} log lines followed`;
    });
  } finally {
    await git.close();
  }
}

main().then(
  () => {
    process.exitCode = failures > 0 ? 1 : 0;
  },
  (error: unknown) => {
    console.log(`FAIL smoke helper: ${error instanceof Error ? error.message : String(error)}`);
    record('fail', 'smoke helper', 0, error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
