import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatPath, parseWithPositions, parseYamlDocuments } from './source.js';

describe('formatPath', () => {
  it('prints paths the way users read them', () => {
    expect(formatPath([])).toBe('');
    expect(formatPath(['tasks', 0, 'tasks', 1, 'runner'])).toBe('tasks[0].tasks[1].runner');
    expect(formatPath(['inputFiles', 'data.csv'])).toBe('inputFiles["data.csv"]');
    expect(formatPath(['env', 'MY-VAR', 'x y'])).toBe('env.MY-VAR["x y"]');
    expect(formatPath([0, 'a'])).toBe('[0].a');
  });
});

describe('parseYamlDocuments', () => {
  it('splits documents, keeps each text verbatim and positions relative to the whole source', () => {
    const source = 'id: a\nnamespace: n\n---\n# second\nid: b\nlist:\n  - x: 1\n    y: 2\n';
    const docs = parseYamlDocuments(source);
    expect(docs).toHaveLength(2);
    expect(docs[0]?.value).toEqual({ id: 'a', namespace: 'n' });
    expect(docs[1]?.index).toBe(1);
    expect(docs[1]?.text).toContain('# second\nid: b');
    expect(docs[1]?.locate(['id'])).toMatchObject({ line: 5, column: 5 });
    expect(docs[1]?.locate(['list', 0, 'y'], 'key')).toMatchObject({ line: 8, column: 5 });
    expect(docs[1]?.locate(['list', 0, 'y'])).toMatchObject({ line: 8, column: 8 });
  });

  it('points a missing path at its closest existing ancestor', () => {
    const [doc] = parseYamlDocuments('a:\n  b: 1\n');
    expect(doc?.locate(['a', 'missing'])).toMatchObject({ line: 2, column: 3 });
    expect(doc?.locate(['a', 'b', 'deeper'])).toMatchObject({ line: 2, column: 6 });
    expect(doc?.locate(['nothing', 0])).toMatchObject({ line: 1, column: 1 });
  });

  it('follows aliases when locating', () => {
    const [doc] = parseYamlDocuments('base: &b\n  image: x\nuse: *b\n');
    expect(doc?.value).toEqual({ base: { image: 'x' }, use: { image: 'x' } });
    expect(doc?.locate(['use', 'image'])).toMatchObject({ line: 2, column: 10 });
  });

  it('reports syntax errors with positions and drops empty trailing documents', () => {
    const docs = parseYamlDocuments('a: 1\n---\n');
    expect(docs).toHaveLength(1);
    const [bad] = parseYamlDocuments('a: [1, 2\n');
    expect(bad?.problems[0]?.code).toBe('SLU_FLOW_YAML_SYNTAX');
    expect(bad?.value).toBeUndefined();
    expect(parseYamlDocuments('')).toEqual([]);
  });

  it('refuses alias bombs', () => {
    const bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
    const [doc] = parseYamlDocuments(bomb, { maxAliasCount: 50 });
    expect(doc?.problems.map((p) => p.code)).toEqual(['SLU_FLOW_YAML_ALIAS_LIMIT']);
    expect(doc?.problems[0]?.message).toContain('more than 50');
  });
});

describe('the two YAML paths agree', () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const files = ['examples/', 'packages/plugins/test/invalid-flows/'].flatMap((dir) =>
    readdirSync(root + dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => dir + f),
  );

  it.each(files)('%s gives the same documents with and without positions', (file) => {
    const source = readFileSync(root + file, 'utf8');
    const fast = parseYamlDocuments(source);
    const slow = parseWithPositions(source);
    expect(fast.map((d) => d.value)).toEqual(slow.map((d) => d.value));
    expect(fast.map((d) => d.text)).toEqual(slow.map((d) => d.text));
    expect(fast.map((d) => d.problems.map((p) => p.code))).toEqual(slow.map((d) => d.problems.map((p) => p.code)));
  });

  it('reads core-schema scalars the same way', () => {
    const source = 'a: 0o17\nb: 0x1F\nc: 1e3\nd: .inf\ne: ~\nf: True\ng: "2026-01-01"\nh: 2026-01-01\ni: yes\nj: -0.5\nk: 012\nl: 1_000\nm: 0b101\nn: +12\no: 1.0\np: -.INF\nq: .NaN\nr: 0x1f\ns: 1.5e-3\nt: FALSE\nu: Null\nv: 0o8\n';
    const fast = parseYamlDocuments(source)[0]?.value;
    expect(fast).toEqual(parseWithPositions(source)[0]?.value);
    expect(fast).toMatchObject({ a: 15, b: 31, l: '1_000', m: '0b101', r: 31, t: false, u: null, v: '0o8' });
  });
});
