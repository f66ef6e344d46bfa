import { describe, expect, it } from 'vitest';
import { SluiceError } from '@sluice/core';
import {
  executionPrefixUri,
  formatStorageUri,
  inputFileUri,
  normalizeRelativePath,
  parseStoragePrefix,
  parseStorageUri,
  taskRunFileUri,
} from './uri.js';

function invalidReason(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe('SLU_STORAGE_INVALID_URI');
    return String((error as SluiceError).params.reason);
  }
  throw new Error('expected SLU_STORAGE_INVALID_URI');
}

const scope = { namespace: 'company.team', flowId: 'etl', executionId: 'ex1', taskId: 'clone', taskRunId: 'tr1' };

describe('taskRunFileUri / inputFileUri', () => {
  it('builds Kestra URIs with the namespace as a path', () => {
    expect(taskRunFileUri(scope, 'out/data.csv')).toBe('kestra:///company/team/etl/executions/ex1/tasks/clone/tr1/out/data.csv');
    expect(inputFileUri({ namespace: 'dev', flowId: 'f', executionId: 'e', inputId: 'my.file' }, 'a.txt')).toBe(
      'kestra:///dev/f/executions/e/inputs/my.file/a.txt',
    );
    expect(executionPrefixUri(scope)).toBe('kestra:///company/team/etl/executions/ex1/');
  });

  it('percent-encodes names and round-trips through parseStorageUri', () => {
    const uri = taskRunFileUri(scope, 'my data/100%#?.txt');
    expect(uri).toBe('kestra:///company/team/etl/executions/ex1/tasks/clone/tr1/my%20data/100%25%23%3F.txt');
    expect(parseStorageUri(uri).slice(-2)).toEqual(['my data', '100%#?.txt']);
  });

  it('rejects bad names and ids', () => {
    expect(invalidReason(() => taskRunFileUri(scope, '../x'))).toMatch(/\.\./);
    expect(invalidReason(() => taskRunFileUri(scope, '/etc/passwd'))).toMatch(/absolute/);
    expect(invalidReason(() => taskRunFileUri({ ...scope, taskRunId: '..' }, 'x'))).toMatch(/taskRunId/);
    expect(invalidReason(() => taskRunFileUri({ ...scope, namespace: 'a..b' }, 'x'))).toMatch(/namespace/);
  });
});

describe('parseStorageUri', () => {
  it('accepts host-less kestra:/// URIs as Kestra writes them', () => {
    expect(parseStorageUri('kestra:///a/b')).toEqual(['a', 'b']);
    expect(parseStorageUri('kestra:///a/my%20file.txt')).toEqual(['a', 'my file.txt']);
  });

  it.each([
    ['kestra:///../etc/passwd', /"\.\." segments/],
    ['kestra:///a/../../x', /"\.\." segments/],
    ['kestra:///a/%2e%2e/x', /"\.\." segments/],
    ['kestra:///a/%2E%2E/x', /"\.\." segments/],
    ['kestra:///a/./x', /"\." segments/],
    ['kestra:///a/%2F/x', /%2F/],
    ['kestra:///a/..%2Fx', /%2F/],
    ['kestra:///a\0b', /NUL/],
    ['kestra:///a%00b', /NUL/],
    ['kestra:///a\\b', /backslash/],
    ['kestra:///a%5Cb', /backslash/],
    ['kestra:///a%0Ab', /control/],
    ['file:///etc/passwd', /scheme/],
    ['/etc/passwd', /scheme/],
    ['KESTRA:///a', /scheme/],
    ['kestra://host/a', /host/],
    ['kestra:///a//b', /empty path segment/],
    ['kestra:///a/b/', /empty path segment/],
    ['kestra:///', /empty/],
    ['kestra:///a?x=1', /query/],
    ['kestra:///a#x', /fragment/],
    ['kestra:///a/%zz', /percent-encoding/],
    ['kestra:///a/.sluice-tmp-123', /reserved/],
  ])('rejects %j', (uri, reason) => {
    expect(invalidReason(() => parseStorageUri(uri))).toMatch(reason);
  });

  it('names the URI in the message', () => {
    expect(() => parseStorageUri('kestra:///a/../b')).toThrow('invalid storage URI "kestra:///a/../b": ".." segments are not allowed');
  });
});

describe('parseStoragePrefix', () => {
  it('accepts the root and one trailing slash', () => {
    expect(parseStoragePrefix('kestra:///')).toEqual([]);
    expect(parseStoragePrefix('kestra:///a/b/')).toEqual(['a', 'b']);
    expect(invalidReason(() => parseStoragePrefix('kestra:///a//'))).toMatch(/empty/);
    expect(invalidReason(() => parseStoragePrefix('kestra:///a/../'))).toMatch(/\.\./);
  });
});

describe('formatStorageUri', () => {
  it('validates segments', () => {
    expect(formatStorageUri(['a', 'b c'])).toBe('kestra:///a/b%20c');
    expect(invalidReason(() => formatStorageUri([]))).toMatch(/empty/);
    expect(invalidReason(() => formatStorageUri(['a', '..']))).toMatch(/\.\./);
  });
});

describe('normalizeRelativePath', () => {
  it('drops "." segments and repeated slashes', () => {
    expect(normalizeRelativePath('out/data.csv')).toBe('out/data.csv');
    expect(normalizeRelativePath('./out//./data.csv')).toBe('out/data.csv');
    expect(normalizeRelativePath('%2e%2e')).toBe('%2e%2e'); // a literal name: names are not URIs
  });

  it.each([
    ['', /non-empty/],
    ['.', /empty once normalised/],
    ['../x', /"\.\." segments/],
    ['a/../../x', /"\.\." segments/],
    ['/etc/passwd', /absolute/],
    ['C:/x', /absolute/],
    ['a\\b', /backslash/],
    ['a\0b', /NUL/],
    ['dir/', /end with/],
    ['.sluice-tmp-x', /reserved/],
  ])('rejects %j', (name, reason) => {
    expect(invalidReason(() => normalizeRelativePath(name))).toMatch(reason);
  });
});
