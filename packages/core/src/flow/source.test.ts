import { describe, expect, it } from 'vitest';
import { formatPath, parseYamlDocuments } from './source.js';

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
