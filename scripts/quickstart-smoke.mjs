#!/usr/bin/env node
// The README's quick start, as a newcomer runs it (issue #14): a fresh clone of the committed HEAD in a new private
// temporary folder (mode 0700, no `shared` folder anywhere above it), the README's set-up command exactly as the
// README writes it (read from the clone's README.md, so the two cannot drift), then:
//   - waits for the URL the server prints;
//   - deploys the README's hello.yml (read from the README too) and runs it with `?wait=true`: SUCCESS, and its log
//     lines (the greeting with the execution id, the `where` task's line);
//   - `npx sluice run examples/hello.yml` and `npx sluice flow validate examples/` in the clone;
//   - stops the server with Ctrl-C (SIGINT to its process group, as a terminal sends it) and checks that it exits and
//     that no Postgres or Sluice process of the clone is left.
// One line per check (`ok   NAME (1.2 s)` / `FAIL NAME: reason`); exits 1 if one failed. With `--report FILE` (the
// vitest JSON report scripts/test.sh writes), the checks are appended to FILE as tests, so they count in the last
// line `N passed, N failed`. Logs: .test-results/quickstart-smoke.log. `--keep` leaves the clone in place.
//
// Usage: node scripts/quickstart-smoke.mjs [--report FILE] [--keep]
// Environment: QUICKSTART_TIMEOUT_S (default 900) bounds the set-up command (npm ci, the postinstall build, start).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { report: { type: 'string' }, keep: { type: 'boolean', default: false } } });
const repo = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = join(repo, '.test-results');
mkdirSync(resultsDir, { recursive: true });
const LOG = join(resultsDir, 'quickstart-smoke.log');
writeFileSync(LOG, '');
const TIMEOUT_MS = Number(process.env.QUICKSTART_TIMEOUT_S ?? 900) * 1000;
const log = (text) => appendFileSync(LOG, text.endsWith('\n') ? text : `${text}\n`);

const results = [];
/** Run one check: a function that returns a detail line or throws with the reason. */
async function check(name, fn) {
  const started = Date.now();
  log(`=== ${name}`);
  try {
    const detail = (await fn()) ?? '';
    const seconds = (Date.now() - started) / 1000;
    console.log(`ok   ${name} (${seconds.toFixed(1)} s)${detail ? `: ${detail}` : ''}`);
    results.push({ name, ok: true, seconds });
    return true;
  } catch (error) {
    const seconds = (Date.now() - started) / 1000;
    const reason = error instanceof Error ? error.message : String(error);
    log(`FAILED: ${reason}`);
    console.log(`FAIL ${name}: ${reason} (log: ${LOG})`);
    results.push({ name, ok: false, seconds, reason });
    return false;
  }
}

function writeReport() {
  const assertionResults = results.map((r) => ({
    ancestorTitles: ['quick start'],
    fullName: `quick start ${r.name}`,
    title: r.name,
    status: r.ok ? 'passed' : 'failed',
    duration: Math.round(r.seconds * 1000),
    failureMessages: r.ok ? [] : [r.reason ?? 'failed'],
  }));
  if (assertionResults.length === 0) assertionResults.push({ ancestorTitles: ['quick start'], fullName: 'quick start ran no check', title: 'ran no check', status: 'failed', duration: 0, failureMessages: ['no check ran'] });
  const failed = assertionResults.filter((a) => a.status === 'failed').length;
  const file = { name: 'scripts/quickstart-smoke.mjs', status: failed ? 'failed' : 'passed', message: '', assertionResults };
  writeFileSync(join(resultsDir, 'quickstart-smoke.json'), JSON.stringify({ testResults: [file] }, null, 2));
  if (values.report && existsSync(values.report)) {
    const merged = JSON.parse(readFileSync(values.report, 'utf8'));
    merged.testResults = [...(merged.testResults ?? []).filter((f) => f.name !== file.name), file];
    for (const [key, add] of [['numTotalTests', assertionResults.length], ['numPassedTests', assertionResults.length - failed], ['numFailedTests', failed], ['numTotalTestSuites', 1]]) {
      if (typeof merged[key] === 'number') merged[key] += add;
    }
    if (failed && 'success' in merged) merged.success = false;
    writeFileSync(values.report, JSON.stringify(merged));
  }
  return failed;
}

// --- what the README says --------------------------------------------------------------------------------------
/** The set-up command: the first command line of the first `sh` block under the README's "## Set up" heading. */
export function readSetupCommand(readme) {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Set up'));
  if (!section) throw new Error('README.md has no "## Set up" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('the "## Set up" section of README.md has no ```sh block');
  const line = block[1].split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!line) throw new Error('the first ```sh block of "## Set up" holds no command');
  return line;
}

/** The README's hello.yml: the heredoc `cat > hello.yml <<'EOF' ... EOF`. */
export function readHelloFlow(readme) {
  const match = /cat > hello\.yml <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(readme);
  if (!match) throw new Error("README.md has no `cat > hello.yml <<'EOF'` block");
  return `${match[1]}\n`;
}

// --- processes -----------------------------------------------------------------------------------------------------
/** Processes (pid, command line) whose command line, working directory or executable lies under one of `roots`. */
function processesUnder(roots) {
  const found = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline = '';
    let cwd = '';
    let exe = '';
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      cwd = readlinkSync(`/proc/${name}/cwd`);
      exe = readlinkSync(`/proc/${name}/exe`);
    } catch {
      // gone, or a kernel thread
    }
    if (roots.some((root) => cmdline.includes(root) || cwd === root || cwd.startsWith(`${root}/`) || exe.startsWith(`${root}/`))) {
      found.push(`${name}: ${cmdline || exe}`);
    }
  }
  return found;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function portFree(port) {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

async function http(method, url, body, headers = {}) {
  const response = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(120_000) });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

// --- the run ---------------------------------------------------------------------------------------------------
const parent = mkdtempSync(join(tmpdir(), 'sluice-quickstart-'));
const clone = join(parent, 'sluice');
let server;
let serverExit;
let url;
let output = '';
let helloExecution;
const extraRoots = [];

try {
  const cloned = await check('fresh clone of HEAD in a private folder with no `shared` folder above it', () => {
    const mode = statSync(parent).mode & 0o777;
    if (mode !== 0o700) throw new Error(`mkdtemp made ${parent} with mode ${mode.toString(8)}, not 700`);
    for (let dir = realpathSync(parent); ; dir = dirname(dir)) {
      if (existsSync(join(dir, 'shared'))) throw new Error(`${join(dir, 'shared')} exists above the clone: the test would not prove the repository stands alone`);
      if (dirname(dir) === dir) break;
    }
    execFileSync('git', ['clone', '-q', repo, clone], { stdio: ['ignore', 'pipe', 'pipe'] });
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: clone, encoding: 'utf8' }).trim();
    return `${clone} at ${head} (folder mode 700)`;
  });
  if (!cloned) throw new Error('no clone');

  const readme = readFileSync(join(clone, 'README.md'), 'utf8');
  const command = readSetupCommand(readme);
  const hello = readHelloFlow(readme);

  const started = await check(`the README's set-up command prints the server's URL: ${command}`, async () => {
    if (!command.includes('sluice server local')) throw new Error(`the set-up command "${command}" does not start sluice server local`);
    // The command as written; only when something else holds 8080 here does PORT move it (the README's curl lines
    // use the printed URL's port through `url` below).
    const env = { ...process.env, CI: process.env.CI ?? '', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
    for (const key of Object.keys(env)) if (key.startsWith('npm_') && !key.startsWith('npm_config_')) delete env[key];
    delete env.SLUICE_SKIP_BUILD;
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    if (!(await portFree(8080))) env.PORT = '0';
    server = spawn('bash', ['-c', command], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    serverExit = new Promise((r) => server.once('exit', (code, signal) => r({ code, signal })));
    const onData = (chunk) => {
      output += chunk.toString();
      log(chunk.toString());
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const match = /Sluice is running at (http:\/\/\S+)/.exec(output);
      if (match) {
        url = match[1];
        break;
      }
      const exited = await Promise.race([serverExit, sleep(250).then(() => undefined)]);
      if (exited) throw new Error(`the command exited (${exited.code ?? exited.signal}) before printing its URL: ${output.trim().split('\n').slice(-3).join(' | ')}`);
      if (Date.now() > deadline) throw new Error(`no URL printed after ${TIMEOUT_MS / 1000} s: ${output.trim().split('\n').slice(-3).join(' | ')}`);
    }
    return url;
  });

  if (started) {
    await check('GET /health answers UP', async () => {
      const { status, json, text } = await http('GET', `${url}/health`);
      if (status !== 200 || json?.status !== 'UP') throw new Error(`GET /health: ${status} ${text.slice(0, 200)}`);
      return text.slice(0, 120);
    });

    await check("the README's hello.yml deploys and runs with ?wait=true (the tenant paths): SUCCESS and its log lines", async () => {
      const saved = await http('POST', `${url}/api/v1/main/flows`, hello, { 'Content-Type': 'application/x-yaml' });
      if (saved.status !== 200 || saved.json?.id !== 'hello') throw new Error(`POST /api/v1/main/flows: ${saved.status} ${saved.text.slice(0, 300)}`);
      const run = await http('POST', `${url}/api/v1/main/executions/tutorial/hello?wait=true`);
      if (run.status !== 200) throw new Error(`POST /api/v1/main/executions/tutorial/hello?wait=true: ${run.status} ${run.text.slice(0, 300)}`);
      const id = run.json?.id;
      if (run.json?.state?.current !== 'SUCCESS') throw new Error(`execution ${id} ended ${run.json?.state?.current}: ${run.text.slice(0, 300)}`);
      const logs = await http('GET', `${url}/api/v1/main/logs/${id}`);
      const lines = Array.isArray(logs.json) ? logs.json : (logs.json?.results ?? []);
      const messages = lines.map((l) => `${l.taskId}: ${l.message}`);
      if (!messages.includes(`greet: Hello from Sluice, execution ${id}`)) throw new Error(`no greeting with the execution id in the log: ${JSON.stringify(messages)}`);
      if (!messages.some((m) => /^where: running on \S+ as \S+$/.test(m))) throw new Error(`no "running on HOST as USER" line from the where task: ${JSON.stringify(messages)}`);
      helloExecution = id;
      return `execution ${id}: SUCCESS, ${messages.length} log lines`;
    });

    // The printed URL in a browser, as a newcomer opens it: Debian's chromium through the checkout's playwright-core
    // (the one running this script; the clone's own node_modules would serve as well).
    await check('the printed URL opens the web UI in Chromium: the flows page lists tutorial.hello, its execution shows SUCCESS', async () => {
      const executablePath = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
      if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath} (scripts/services.sh installs it)`);
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
      try {
        const page = await browser.newPage();
        const errors = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(url, { timeout: 30_000 });
        await page.waitForURL(/\/ui\/flows/, { timeout: 30_000 });
        await page.getByRole('link', { name: 'hello', exact: true }).first().waitFor({ timeout: 30_000 });
        if (!helloExecution) throw new Error('no execution of tutorial.hello to open');
        await page.goto(`${url}/ui/executions/${helloExecution}`, { timeout: 30_000 });
        await page.locator('[data-state="SUCCESS"]').first().waitFor({ timeout: 30_000 });
        if (errors.length > 0) throw new Error(`errors in the page: ${errors.join(' | ')}`);
        return `${new URL(page.url()).pathname}: SUCCESS shown`;
      } finally {
        await browser.close();
      }
    });
  }

  await check('npx sluice run examples/hello.yml', () => {
    const result = spawnSync('npx', ['sluice', 'run', 'examples/hello.yml'], { cwd: clone, encoding: 'utf8', timeout: 300_000 });
    log(`${result.stdout}\n${result.stderr}`);
    if (result.status !== 0) throw new Error(`exit ${result.status}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    if (!/SUCCESS/.test(result.stdout)) throw new Error(`no SUCCESS in its output: ${result.stdout.slice(-300)}`);
    return result.stdout.trim().split('\n').find((l) => /SUCCESS/.test(l));
  });

  await check('npx sluice flow validate examples/', () => {
    const result = spawnSync('npx', ['sluice', 'flow', 'validate', 'examples/'], { cwd: clone, encoding: 'utf8', timeout: 120_000 });
    log(`${result.stdout}\n${result.stderr}`);
    if (result.status !== 0) throw new Error(`exit ${result.status}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    return result.stdout.trim().split('\n').at(-1);
  });

  if (started) {
    // Where the embedded cluster really lives (as root it may be outside the clone, linked from .sluice/postgres).
    try {
      const link = join(clone, '.sluice', 'postgres');
      extraRoots.push(realpathSync(link));
    } catch {
      // no cluster: the checks below say so
    }
    await check('Ctrl-C (SIGINT) stops the server, and no Postgres or Sluice process of the clone is left', async () => {
      process.kill(-server.pid, 'SIGINT');
      const exited = await Promise.race([serverExit, sleep(60_000).then(() => undefined)]);
      if (!exited) throw new Error('still running 60 s after SIGINT');
      await sleep(500);
      const left = processesUnder([clone, ...extraRoots]);
      if (left.length > 0) throw new Error(`left running: ${left.join('; ')}`);
      return `exited ${exited.code ?? exited.signal}; nothing left under ${clone}${extraRoots.length ? ` or ${extraRoots.join(', ')}` : ''}`;
    });
  }
} finally {
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const line of processesUnder([clone, ...extraRoots])) {
    const pid = Number(line.split(':')[0]);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (!values.keep) {
    for (const dir of extraRoots) if (dir.startsWith('/var/lib/sluice/')) rmSync(dir, { recursive: true, force: true });
    rmSync(parent, { recursive: true, force: true });
  } else {
    console.log(`quickstart-smoke: --keep: the clone stays in ${clone}`);
  }
}

const failed = writeReport();
console.log(`quick start: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
