/**
 * Issue #15: a fuzzer against a running API (loopback only). Random and mutated flows (byte flips, NUL and lone
 * surrogates raw and escaped, deep nesting, huge strings within the body limit, wrong types, YAML oddities), random
 * and broken multipart execution inputs and labels, odd headers and content types, invalid JSON, random ids and query
 * parameters on every route. Every answer must be below 500 (a 5xx is a bug: the client made the input), no request
 * may hang, and /health must stay UP.
 *
 * Seeded: the seed is printed; `SLUICE_FUZZ_SEED=<n>` replays a run, `SLUICE_FUZZ_REQUESTS=<n>` changes its length
 * (default 400, also bounded by time), `SLUICE_FUZZ_TRACE=1` prints each request before it is sent.
 * `SLUICE_TEST_API_LOG=1` prints the server's log, with the cause of any 500. A failure report holds small bodies whole
 * (base64), to replay one request by hand.
 *
 * What it found when it was written: a kept-alive connection hung after a multipart upload refused at a bad part (the
 * rest of the body sat unread), YAML nested a few thousand levels deep overflowed the parser's stack, and integer query
 * parameters beyond Postgres's integer (`?attempt=999999999999`) were refused by the database (both 500s).
 */
import { randomInt } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, YAML } from './fixture.js';
import type { ApiFixture } from './fixture.js';

const SEED = process.env.SLUICE_FUZZ_SEED ? Number(process.env.SLUICE_FUZZ_SEED) : randomInt(2 ** 31);
const REQUESTS = Number(process.env.SLUICE_FUZZ_REQUESTS ?? 400);
/** The run stops early after this long (slow machines): the seed and the count reached are printed. */
const BUDGET_MS = 120_000;
const REQUEST_TIMEOUT_MS = 30_000;
const WORKER_TOKEN = 'fuzz-worker-token';
const BODY_LIMIT = 2 * 1024 * 1024;

const api = await startApi({ workerToken: WORKER_TOKEN, bodyLimit: BODY_LIMIT, uploadLimit: 256 * 1024 });

/** mulberry32: small, fast, good enough to pick test cases, and reproducible from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  ascii(n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789._-'): string {
    let out = '';
    for (let i = 0; i < n; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }
}

/** Strings a client might send: hostile characters, injections, templates, numbers in disguise, nothing at all. */
const HOSTILE = [
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDFFF',
  '\uDBFF\uDBFF',
  '\uFFFE',
  '\u202Eevil',
  '😀',
  '../../etc/passwd',
  '%00',
  '{{ inputs.x }}',
  '{{',
  '{% if %}',
  "'; DROP TABLE flows; --",
  '',
  ' ',
  '\r\n',
  '\t',
  'null',
  'true',
  '1e309',
  '-0',
  '9007199254740993',
  '__proto__',
  'constructor',
  '{"a": "\\u0000"}',
  '{"a": ["\\ud800"]}',
  '[1, 2',
  'kestra:///../../x',
  '2030-01-01T00:00:00Z',
  'PT1H',
];

/** Valid flows the mutations start from; the first two are stored before the run (executions target them). */
const BASE_FLOWS = [
  `id: typed
namespace: fuzz.base
labels:
  team: data
inputs:
  - id: name
    type: STRING
  - id: count
    type: INT
    required: false
  - id: cfg
    type: JSON
    required: false
  - id: env
    type: SELECT
    values: [dev, prod]
    required: false
  - id: tags
    type: MULTISELECT
    values: [a, b]
    required: false
  - id: when
    type: DATETIME
    required: false
  - id: data
    type: FILE
    required: false
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.name }}"
`,
  `id: plain
namespace: fuzz.base
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hello
`,
  `id: nested
namespace: fuzz.deploy
description: "a flow with nesting"
variables:
  greeting: hi
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: a
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "{{ vars.greeting }}"
      - id: b
        type: io.kestra.plugin.core.log.Log
        message: done
errors:
  - id: oops
    type: io.kestra.plugin.core.log.Log
    message: failed
triggers:
  - id: every
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "*/5 * * * *"
`,
  `id: anchors
namespace: fuzz.deploy
variables:
  base: &base {a: 1, b: [1, 2, 3]}
  copy: *base
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: 'single ''quoted'' text'
`,
];

/** Keys, values and pieces of YAML syntax that break a document in interesting ways. */
const YAML_BITS = [
  '&a ',
  '*a',
  '*nope',
  '!!binary ',
  '!!js/function ',
  '!custom ',
  '<<: *a\n',
  '? complex\n',
  '\n---\n',
  '\n...\n',
  '%YAML 1.1\n',
  '{',
  '[',
  '"',
  "'",
  '|\n',
  '>-\n',
  ': ',
  '- ',
  '\t',
  '#',
  '@',
  '`',
  '\\',
  '"\\0"',
  '"\\x00"',
  '"\\u0000"',
  '"\\uD800"',
  '"\\uDC00x"',
  '"\\U0000D800"',
  '"\\N"',
  '~',
  '.nan',
  '0o17',
  '2001-12-14t21:59:43.10-05:00',
];

/** What replaces a value to give it the wrong type. */
const WRONG_VALUES = ['5', '-1', '3.14', 'true', 'null', '~', '[]', '{}', '[1, {a: b}]', '{tasks: []}', '"x"', "''", '!!binary aGVsbG8=', '[[[[]]]]'];

function mutateFlow(r: Random, base: string): Buffer {
  let text = base;
  const mutations = r.between(1, 3);
  const asBytes: ((b: Buffer) => Buffer)[] = [];
  for (let m = 0; m < mutations; m++) {
    const at = r.int(text.length + 1);
    switch (r.int(11)) {
      case 0: // a raw NUL or an encoded lone surrogate somewhere
        text = `${text.slice(0, at)}${r.pick(['\u0000', '\u0000\u0000', '\uD800', '\uDC00'])}${text.slice(at)}`;
        break;
      case 1: // an escaped one inside a quoted value
        text = text.replace(/message: .*/, `message: "x${r.pick(['\\0', '\\x00', '\\u0000', '\\uD800', '\\uDFFF', '\\U0000DC00', '\\uD83D\\uDE00'])}y"`);
        break;
      case 2: // a hostile string as a value
        text = text.replace(/(\n\s*(?:message|description|id|namespace|type|format|cron|team): ).*/, (_all, key: string) => `${key}${JSON.stringify(r.pick(HOSTILE))}`);
        break;
      case 3: // wrong types
        text = text.replace(new RegExp(`(\\n\\s*${r.pick(['tasks', 'id', 'namespace', 'inputs', 'type', 'labels', 'triggers', 'variables', 'values', 'message', 'errors', 'cron'])}):.*`), (_all, key: string) => `${key}: ${r.pick(WRONG_VALUES)}`);
        break;
      case 4: // YAML oddities
        text = `${text.slice(0, at)}${r.pick(YAML_BITS)}${text.slice(at)}`;
        break;
      case 5: // delete or duplicate a range
        if (r.chance(0.5)) text = text.slice(0, at) + text.slice(at + r.int(40));
        else text = text.slice(0, at) + text.slice(at, at + r.int(80)) + text.slice(at);
        break;
      case 6: {
        // deep nesting: flow or block collections, from a few levels to far beyond what parsers recurse through
        const depth = r.pick([50, 200, 1000, 3000, 10_000]);
        const nested = r.pick([
          () => `${'['.repeat(depth)}${']'.repeat(depth)}`,
          () => `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`,
          // block collections: sequences in one line (two bytes a level), mappings by indentation
          () => `\n    ${'- '.repeat(depth)}1`,
          () => `\n${Array.from({ length: Math.min(depth, 1000) }, (_, i) => `${' '.repeat(i + 4)}k:`).join('\n')} 1`,
        ])();
        text = `${text.replace(/\n$/, '')}\nvariables:\n  deep: ${nested}\n`;
        break;
      }
      case 7: // a huge string, within the body limit
        text = text.replace(/(description|message): .*/, (_all, key: string) => `${key}: "${'x'.repeat(r.pick([10_000, 100_000, 1_000_000]))}"`);
        break;
      case 8: // many tasks
        text = `${text.replace(/\n$/, '')}\n${Array.from({ length: r.pick([10, 500, 6000]) }, (_, i) => `  - id: m${i}\n    type: io.kestra.plugin.core.log.Log\n    message: m\n`).join('')}`;
        break;
      case 9: // byte flips (may leave invalid UTF-8)
        asBytes.push((b) => {
          for (let i = r.between(1, 8); i > 0 && b.length > 0; i--) b[r.int(b.length)] = r.int(256);
          return b;
        });
        break;
      default: // token soup
        text = `${text.slice(0, at)}${Array.from({ length: r.between(1, 6) }, () => r.pick([...YAML_BITS, ...HOSTILE, r.ascii(r.int(12), 'ab:-[]{}, \n\'"#&*!|>%@`')])).join('')}${text.slice(at)}`;
        break;
    }
  }
  let bytes: Buffer = Buffer.from(text, 'utf8');
  for (const mutate of asBytes) bytes = mutate(bytes);
  // An encoded lone surrogate as raw bytes (ED A0 80), which no UTF-8 encoder writes.
  if (r.chance(0.05)) bytes = Buffer.concat([bytes.subarray(0, 40), Buffer.from([0xed, 0xa0, 0x80]), bytes.subarray(40)]);
  return bytes;
}

/** A path segment: mostly plausible, often hostile, percent-encoded byte by byte (lone surrogates as ED A0 80). */
function segment(r: Random, plausible: readonly string[] = []): string {
  const encode = (bytes: Buffer): string => [...bytes].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
  switch (r.int(8)) {
    case 0:
      return encode(r.bytes(r.between(1, 12)));
    case 1:
      return `${r.ascii(4)}%00${r.ascii(2)}`;
    case 2:
      return `${r.ascii(3)}%ED%A0%80`;
    case 3:
      return encode(Buffer.from(r.pick(HOSTILE).replace(/[\uD800-\uDFFF]/g, '?'), 'utf8')) || 'x';
    case 4:
      return r.ascii(r.pick([1, 8, 100, 300]));
    case 5:
      return '%2e%2e';
    default:
      return plausible.length > 0 && r.chance(0.7) ? plausible[r.int(plausible.length)]! : r.ascii(r.between(1, 20));
  }
}

/** A query string of random parameters (known names with bad values, unknown names), percent-encoded. */
function query(r: Random, names: readonly string[]): string {
  const parts: string[] = [];
  for (let i = r.int(4); i > 0; i--) {
    const name = r.chance(0.8) ? r.pick(names) : segment(r);
    const value = r.chance(0.5) ? segment(r) : r.pick(['-1', '0', '1', '999999999999', '2147483648', '1e300', 'abc', '', 'true', 'FAILED', 'FOO', 'TRACE', '2030-01-01T00:00:00Z', 'not-a-date', 'kestra:///fuzz/x', 'team:a%00b', 'team:x']);
    parts.push(`${name}=${value}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** A multipart body for an execution (hand-written, so that it can be broken afterwards). */
function multipart(r: Random, boundary: string): Buffer {
  const parts: Buffer[] = [];
  const names = ['name', 'count', 'cfg', 'env', 'tags', 'when', 'data', 'unknown', '__proto__', 'na\u0000me', r.ascii(5)];
  for (let i = r.between(0, 6); i > 0; i--) {
    const name = r.pick(names);
    const file = r.chance(0.2) || name === 'data';
    const value = file ? r.bytes(r.pick([0, 10, 1000, 300_000])) : Buffer.from(r.chance(0.6) ? r.pick(HOSTILE) : r.pick(['Ada', '42', 'x', '{"a": 1}', 'dev', 'a', '2030-01-01T00:00:00Z', r.ascii(r.pick([1, 100, 2000]))]), 'utf8');
    const disposition = file ? `form-data; name="${name}"; filename="${r.pick(['a.txt', '../../x', 'n\u0000ul.txt', '', 'é.csv'])}"` : `form-data; name="${name}"`;
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${file ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`, 'utf8'), value, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  let body = Buffer.concat(parts);
  // A third of the forms are sound (a name, some optional inputs, no mutation): executions get created and then read,
  // killed and restarted by later requests.
  if (r.chance(0.33)) {
    const fields = [`--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nAda\r\n`];
    if (r.chance(0.5)) fields.push(`--${boundary}\r\nContent-Disposition: form-data; name="count"\r\n\r\n${r.int(100)}\r\n`);
    if (r.chance(0.5)) fields.push(`--${boundary}\r\nContent-Disposition: form-data; name="cfg"\r\n\r\n{"k": [1, "two"]}\r\n`);
    if (r.chance(0.3)) fields.push(`--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="in.txt"\r\n\r\nfile content\r\n`);
    return Buffer.from(`${fields.join('')}--${boundary}--\r\n`);
  }
  switch (r.int(6)) {
    case 0: // truncated
      body = body.subarray(0, r.int(body.length + 1));
      break;
    case 1: // byte flips
      for (let i = r.between(1, 6); i > 0 && body.length > 0; i--) body[r.int(body.length)] = r.int(256);
      break;
    case 2: // a different boundary inside
      body = Buffer.from(body.toString('latin1').replaceAll(boundary, boundary.slice(0, r.int(boundary.length))), 'latin1');
      break;
    default:
      break;
  }
  return body;
}

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** Never sent to a route that streams until the execution ends (follow) with a real id. */
  readonly note: string;
}

function worker(headers: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${WORKER_TOKEN}`, ...headers };
}

const CONTENT_TYPES = [
  'application/x-yaml',
  'application/yaml; charset=utf-8',
  'text/yaml',
  'application/json',
  'text/plain',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'multipart/form-data; boundary="unclosed',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  '*/*',
  'application/x-yaml; charset=latin1',
  ';;;',
  'x',
  'text/yaml; boundary=abc',
];

function generate(r: Random, executions: readonly string[], flowIds: readonly string[]): Sent {
  const known = ['fuzz.base', 'fuzz.deploy', 'company.team'];
  const executionId = (): string => (executions.length > 0 && r.chance(0.4) ? r.pick(executions) : segment(r));
  switch (r.int(12)) {
    case 0:
    case 1:
    case 2: {
      const base = r.pick(BASE_FLOWS);
      const body = r.chance(0.9) ? mutateFlow(r, base) : r.bytes(r.pick([0, 1, 100, 5000]));
      const contentType = r.chance(0.85) ? 'application/x-yaml' : r.pick(CONTENT_TYPES);
      const target = r.pick([
        ['POST', '/api/v1/flows'],
        ['POST', '/api/v1/flows/validate'],
        ['PUT', `/api/v1/flows/fuzz.deploy/${r.pick(['nested', 'anchors', ...flowIds])}`],
        ['PUT', `/api/v1/flows/${segment(r, known)}/${segment(r, flowIds)}`],
        ['POST', `/api/v1/flows/fuzz.deploy?delete=${r.pick(['false', 'true', 'maybe'])}`],
        ['POST', `/api/v1/flows/${segment(r, known)}`],
      ] as const);
      return { method: target[0], path: target[1], headers: { 'content-type': contentType }, body, note: 'flow' };
    }
    case 3:
    case 4:
    case 5: {
      const boundary = r.chance(0.9) ? `----fuzz${r.ascii(16)}` : r.ascii(r.pick([1, 70, 300]));
      const body = r.chance(0.85) ? multipart(r, boundary) : r.bytes(r.int(200));
      const contentType = r.chance(0.8) ? `multipart/form-data; boundary=${r.chance(0.9) ? boundary : r.ascii(8)}` : r.pick(CONTENT_TYPES);
      const flow = r.chance(0.8) ? r.pick(['typed', 'plain']) : segment(r, flowIds);
      const params = [
        ...(r.chance(0.5) ? [`labels=${r.pick(['team:x', 'team:a%00b', 'te%00am:x', 'nocolon', ':x', `k:${segment(r)}`, 'team:%ED%A0%80'])}`] : []),
        ...(r.chance(0.2) ? [`revision=${r.pick(['0', '1', '99', 'x', '-1'])}`] : []),
        ...(r.chance(0.2) ? [`scheduleDate=${r.pick(['2030-01-01T00:00:00Z', 'yesterday', '%00', '2030-13-45T99:99:99Z'])}`] : []),
        // wait=true is never sent: the recording queue never ends an execution, so it would wait forever (by design).
        ...(r.chance(0.1) ? [`wait=${r.pick(['false', 'maybe', '', 'no'])}`] : []),
      ];
      const path = `/api/v1/executions/${r.chance(0.85) ? 'fuzz.base' : segment(r, known)}/${flow}${params.length > 0 ? `?${params.join('&')}` : ''}`;
      return { method: 'POST', path, headers: r.chance(0.1) ? {} : { 'content-type': contentType }, body, note: 'execution' };
    }
    case 6: {
      const id = executionId();
      const target = r.pick([
        ['GET', `/api/v1/executions/${id}`],
        ['DELETE', `/api/v1/executions/${id}/kill`],
        ['POST', `/api/v1/executions/${id}/restart`],
        ['GET', `/api/v1/executions/${id}/file${query(r, ['path'])}`],
        ['GET', `/api/v1/executions/${id}/file/metas?path=${r.pick(['kestra:///fuzz/x', 'kestra:///../x', '%00', 'file:///etc/passwd', segment(r)])}`],
        ['GET', `/api/v1/logs/${id}${query(r, ['minLevel', 'taskId', 'taskRunId'])}`],
        ['GET', `/api/v1/logs/${id}/download${query(r, ['minLevel', 'taskId'])}`],
        ['DELETE', `/api/v1/logs/${id}${query(r, ['minLevel', 'attempt', 'taskId'])}`],
      ] as const);
      return { method: target[0], path: target[1], headers: {}, note: 'execution id' };
    }
    case 7: {
      // Follows stream until the execution ends: only with ids that are not real executions (a quick 404 or 400).
      const id = segment(r);
      return { method: 'GET', path: r.chance(0.5) ? `/api/v1/executions/${id}/follow` : `/api/v1/logs/${id}/follow`, headers: {}, note: 'follow' };
    }
    case 8: {
      const target = r.pick([
        ['/api/v1/flows/search', ['namespace', 'q', 'page', 'size']],
        ['/api/v1/executions/search', ['namespace', 'flowId', 'state', 'labels', 'startDate', 'endDate', 'page', 'size']],
        ['/api/v1/logs/search', ['namespace', 'flowId', 'executionId', 'taskId', 'minLevel', 'q', 'startDate', 'endDate', 'page', 'size']],
        [`/api/v1/flows/${segment(r, known)}/${segment(r, flowIds)}`, ['source', 'revision']],
        [`/api/v1/flows/${segment(r, known)}/${segment(r, flowIds)}/revisions`, []],
      ] as const);
      return { method: r.chance(0.9) ? 'GET' : r.pick(['DELETE', 'PATCH', 'OPTIONS', 'HEAD']), path: `${target[0]}${query(r, target[1])}`, headers: {}, note: 'read' };
    }
    case 9: {
      const body = r.pick([
        () => Buffer.from(JSON.stringify({ group: r.pick(['default', 'gpu', '\u0000', 'a'.repeat(300)]), concurrency: r.pick([1, -1, 1.5, 'x', null]), running: r.pick([0, 1e20, 'x']) })),
        () => Buffer.from(r.pick(['{', '[]', 'null', '"x"', '{"group": "g"', '{"group": "\\u0000"}', '{"group": "\\ud800"}', '', '{"__proto__": {"x": 1}, "group": "g"}'])),
        () => r.bytes(r.int(100)),
      ])();
      const id = segment(r, ['worker-1', 'w.2']);
      if (r.chance(0.8)) return { method: 'PUT', path: `/api/v1/internal/workers/${id}`, headers: worker({ 'content-type': r.chance(0.8) ? 'application/json' : r.pick(CONTENT_TYPES) }), body, note: 'heartbeat' };
      return { method: 'DELETE', path: `/api/v1/internal/workers/${id}`, headers: worker(), note: 'deregister' };
    }
    case 10: {
      const uri = r.pick(['kestra:///fuzz/a.txt', 'kestra:///../etc/passwd', 'kestra:///fuzz/%00', 'kestra:///fuzz/%ED%A0%80', 'file:///etc/passwd', '', segment(r)]);
      const target = r.pick([
        ['PUT', `/api/v1/internal/storage?uri=${uri}`],
        ['GET', `/api/v1/internal/storage?uri=${uri}`],
        ['GET', `/api/v1/internal/storage/metas?uri=${uri}`],
        ['GET', `/api/v1/internal/storage/list?prefix=${uri}`],
        ['DELETE', `/api/v1/internal/storage?uri=${uri}`],
      ] as const);
      return {
        method: target[0],
        path: target[1],
        headers: worker(r.chance(0.5) ? { 'content-type': r.pick(CONTENT_TYPES) } : {}),
        ...(target[0] === 'PUT' ? { body: r.bytes(r.pick([0, 10, 10_000])) } : {}),
        note: 'storage',
      };
    }
    default: {
      // Odd requests: unknown routes, wrong methods, odd headers, a bad token on internal routes.
      const headers: Record<string, string> = {};
      for (let i = r.int(4); i > 0; i--) {
        headers[r.pick(['content-type', 'accept', 'authorization', 'x-forwarded-for', 'accept-encoding', 'x-request-id', 'cookie', `x-${r.ascii(6)}`])] = r.chance(0.5)
          ? r.pick([...CONTENT_TYPES, 'Bearer nope', 'Basic !!!', 'gzip, br', '*/*;q=0.1', 'x'.repeat(4000)])
          : r.ascii(r.int(60), 'abcXYZ019 !#$%&\'()*+,-./:;<=>?@[]^_`{|}~\u00e9\u00ff');
      }
      const path = r.pick([`/${segment(r)}`, `/api/v1/${segment(r)}`, `/api/v1/flows/${segment(r)}/${segment(r)}/${segment(r)}/${segment(r)}`, '/api/v1/internal/workers/x', '/health', '/api/v1/plugins', '/docs/json', `/api/v1/flows?${segment(r)}`]);
      const method = r.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
      return { method, path, headers, ...(method === 'GET' || r.chance(0.5) ? {} : { body: r.bytes(r.int(300)) }), note: 'odd' };
    }
  }
}

interface Answer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly text: string;
}

/** One raw HTTP request (exact bytes, exact path); rejects on a network error or after the timeout. */
function send(url: string, sent: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...sent.headers };
    if (sent.body !== undefined) headers['content-length'] = String(sent.body.length);
    const request = httpRequest(`${url}${sent.path}`, { method: sent.method, headers, path: sent.path, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end(sent.body);
  });
}

describe.skipIf(!api)('fuzz: hostile requests never get a 5xx', () => {
  let a: ApiFixture;
  beforeAll(async () => {
    a = api!;
    for (const flow of BASE_FLOWS) {
      const response = await a.fetch('/api/v1/flows', { method: 'POST', headers: YAML, body: flow });
      expect(response.status, await response.text()).toBe(200);
    }
  });
  afterAll(async () => {
    await api?.close();
  }, 60_000);

  it(`${REQUESTS} random and mutated requests: every status < 500, no hang, /health UP`, { timeout: BUDGET_MS + 60_000 }, async () => {
    console.log(`fuzz seed ${SEED}: replay with SLUICE_FUZZ_SEED=${SEED}`);
    const r = new Random(SEED);
    const executions: string[] = [];
    const flowIds = ['typed', 'plain', 'nested', 'anchors'];
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const started = Date.now();
    let count = 0;
    for (; count < REQUESTS && Date.now() - started < BUDGET_MS; count++) {
      const sent = generate(r, executions, flowIds);
      // Small bodies go into the report whole (base64), to replay one request by hand.
      const body = sent.body === undefined ? 'no body' : sent.body.length <= 2048 ? `body (base64) ${sent.body.toString('base64')}` : `body ${sent.body.length} bytes`;
      const label = `#${count} ${sent.note}: ${sent.method} ${sent.path.slice(0, 200)} ${JSON.stringify(sent.headers).slice(0, 200)} ${body}`;
      if (process.env.SLUICE_FUZZ_TRACE === '1') console.log(label.slice(0, 600));
      let answer: Answer;
      try {
        answer = await send(a.url, sent);
      } catch (error) {
        // The client refuses some inputs before sending (an invalid header character): not the server's doing.
        const code = (error as { code?: string }).code;
        if (code === 'ERR_INVALID_CHAR' || code === 'ERR_UNESCAPED_CHARACTERS' || code === 'ERR_INVALID_HTTP_TOKEN') continue;
        failures.push(`${label}: ${(error as Error).message}`);
        continue;
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status >= 500 || answer.status < 100) {
        failures.push(`${label}: ${answer.status} ${answer.text.slice(0, 300)}`);
        continue;
      }
      // Every error answered by the API (not by Node's HTTP parser, which has no content type) is {code, message, details}.
      if (answer.status >= 400 && answer.contentType?.startsWith('application/json') && sent.method !== 'HEAD') {
        let body: { code?: unknown; message?: unknown; details?: unknown } = {};
        try {
          body = JSON.parse(answer.text) as typeof body;
        } catch {
          // reported below
        }
        if (typeof body.code !== 'string' || typeof body.message !== 'string' || typeof body.details !== 'object') failures.push(`${label}: ${answer.status} not an API error body: ${answer.text.slice(0, 300)}`);
      }
      if (sent.note === 'execution' && answer.status === 200) executions.push((JSON.parse(answer.text) as { id: string }).id);
      if (count % 100 === 99) {
        const health = await a.fetch('/health');
        if (health.status !== 200) failures.push(`/health after request #${count}: ${health.status} ${await health.text()}`);
      }
    }
    const summary = [...statuses.entries()].sort(([x], [y]) => x - y).map(([status, n]) => `${status}×${n}`).join(' ');
    console.log(`fuzz seed ${SEED}: ${count} requests in ${Date.now() - started} ms; statuses ${summary}; ${executions.length} executions created`);
    if (failures.length > 0) console.log(`fuzz seed ${SEED} failures:\n${failures.join('\n')}`);
    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(count).toBeGreaterThanOrEqual(Math.min(REQUESTS, 50));
    const health = await a.fetch('/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'UP', checks: { database: { status: 'UP' } } });
  });
});
