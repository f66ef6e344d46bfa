import { describe, expect, it } from 'vitest';
import { closestNames, didYouMean, editDistance } from './suggest.js';

const types = [
  'io.kestra.plugin.scripts.python.Commands',
  'io.kestra.plugin.scripts.shell.Commands',
  'io.kestra.plugin.scripts.python.Script',
  'io.kestra.plugin.git.Clone',
  'io.kestra.plugin.core.log.Log',
];

describe('suggestions', () => {
  it('measures edit distance case-insensitively, with an early exit', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('ABC', 'abc')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abcdef', 'uvwxyz', 2)).toBe(3);
    expect(editDistance('a', 'abcdefgh', 2)).toBe(3);
  });

  it('finds typos in full names and bare class names', () => {
    expect(closestNames('io.kestra.plugin.git.Clon', types)).toEqual(['io.kestra.plugin.git.Clone']);
    // Equally close by class name: the shorter full name first.
    expect(closestNames('Commands', types)).toEqual(['io.kestra.plugin.scripts.shell.Commands', 'io.kestra.plugin.scripts.python.Commands']);
    expect(closestNames('io.kestra.plugin.core.log.Lg', types)).toEqual(['io.kestra.plugin.core.log.Log']);
    expect(closestNames('something.else.Entirely', types)).toEqual([]);
    expect(closestNames('comands', ['commands', 'beforeCommands', 'env'])).toEqual(['commands']);
  });

  it('formats a suggestion', () => {
    expect(didYouMean('taks', ['tasks', 'id'])).toBe('; did you mean "tasks"?');
    expect(didYouMean('Commands', types)).toBe('; did you mean "io.kestra.plugin.scripts.shell.Commands" or "io.kestra.plugin.scripts.python.Commands"?');
    expect(didYouMean('zzz', ['tasks'])).toBe('');
  });
});
