import { SluiceError } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { Registry } from './registry.js';

const clone = { type: 'io.kestra.plugin.git.Clone' };
const log = { type: 'io.kestra.plugin.core.log.Log', aliases: ['io.kestra.core.tasks.log.Log'] };
const wdir = {
  type: 'io.kestra.plugin.core.flow.WorkingDirectory',
  aliases: ['io.kestra.core.tasks.flows.WorkingDirectory', 'io.kestra.core.tasks.flows.Worker'],
};

function registry(): Registry<{ type: string; aliases?: readonly string[] }> {
  return new Registry<{ type: string; aliases?: readonly string[] }>('task').registerAll([clone, log, wdir]);
}

describe('Registry', () => {
  it('finds entries by canonical type and by alias, case-insensitively', () => {
    const r = registry();
    expect(r.get('io.kestra.plugin.git.Clone')).toBe(clone);
    expect(r.get('IO.KESTRA.PLUGIN.GIT.CLONE')).toBe(clone);
    expect(r.get('io.kestra.core.tasks.flows.worker')).toBe(wdir);
    expect(r.find('io.kestra.core.tasks.log.Log')).toBe(log);
    expect(r.has('nope')).toBe(false);
  });

  it('lists each entry once and every usable name', () => {
    const r = registry();
    expect(r.list()).toEqual([clone, log, wdir]);
    expect(r.names()).toContain('io.kestra.core.tasks.flows.Worker');
    expect(r.names()).toHaveLength(6);
  });

  it('rejects a duplicate canonical type or alias in any case, naming the owner', () => {
    const r = registry();
    expect(() => r.register({ type: 'io.kestra.plugin.git.clone' })).toThrowError(
      'task type "io.kestra.plugin.git.clone" is already registered (by "io.kestra.plugin.git.Clone")',
    );
    expect(() => r.register({ type: 'x.Y', aliases: ['IO.KESTRA.CORE.TASKS.LOG.LOG'] })).toThrowError(/already registered \(by "io.kestra.plugin.core.log.Log"\)/);
    expect(() => new Registry('task').register({ type: 'a.B', aliases: ['a.b'] })).toThrowError(SluiceError);
    // A rejected registration leaves nothing behind.
    expect(r.has('x.Y')).toBe(false);
    expect(r.list()).toHaveLength(3);
  });

  it('rejects empty or padded names', () => {
    expect(() => new Registry('runner').register({ type: '' })).toThrowError(/invalid runner definition/);
    expect(() => new Registry('runner').register({ type: ' a.B' })).toThrowError(/invalid name/);
  });

  it('names an unknown type and suggests the closest canonical types', () => {
    const r = registry();
    try {
      r.get('io.kestra.plugin.git.Clon');
      expect.unreachable('get must throw');
    } catch (error) {
      expect(error).toBeInstanceOf(SluiceError);
      const e = error as SluiceError;
      expect(e.code).toBe('SLU_PLUGIN_UNKNOWN_TYPE');
      expect(e.message).toBe('unknown task type "io.kestra.plugin.git.Clon"; did you mean "io.kestra.plugin.git.Clone"?');
      expect(e.details).toEqual({ suggestions: ['io.kestra.plugin.git.Clone'] });
    }
    // An alias match suggests the canonical name, once.
    expect(r.suggest('io.kestra.core.tasks.flows.Workr')).toEqual(['io.kestra.plugin.core.flow.WorkingDirectory']);
    expect(r.suggest('completely.different.Thing')).toEqual([]);
    expect(() => r.get('zzz')).toThrowError('unknown task type "zzz"');
  });
});
