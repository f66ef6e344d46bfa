/**
 * applyPluginDefaults: pure, with a hand-written type resolver (and the real task registry where the aliases matter).
 */
import type { Flow, PluginDefault, TaskSpec } from '@sluice/core';
import { createDefaultRegistries } from '@sluice/plugins';
import { describe, expect, it } from 'vitest';
import { applyPluginDefaults } from '../src/index.js';
import type { TypeResolver } from '../src/index.js';

const TYPES: Record<string, { type: string; aliases?: string[] }> = {
  'io.kestra.plugin.scripts.python.commands': { type: 'io.kestra.plugin.scripts.python.Commands' },
  'io.kestra.plugin.scripts.shell.commands': { type: 'io.kestra.plugin.scripts.shell.Commands' },
  'io.kestra.plugin.core.log.log': { type: 'io.kestra.plugin.core.log.Log', aliases: ['io.kestra.core.tasks.log.Log'] },
  'io.kestra.core.tasks.log.log': { type: 'io.kestra.plugin.core.log.Log', aliases: ['io.kestra.core.tasks.log.Log'] },
  'io.kestra.plugin.core.flow.workingdirectory': {
    type: 'io.kestra.plugin.core.flow.WorkingDirectory',
    aliases: ['io.kestra.core.tasks.flows.WorkingDirectory', 'io.kestra.core.tasks.flows.Worker'],
  },
};
const resolve: TypeResolver = (type) => TYPES[type.toLowerCase()];

function flow(tasks: TaskSpec[], defaults: { pluginDefaults?: PluginDefault[]; taskDefaults?: PluginDefault[] } = {}): Flow {
  return { id: 'f', namespace: 'company.team', tasks, ...defaults };
}

const python: TaskSpec = { id: 'py', type: 'io.kestra.plugin.scripts.python.Commands', commands: ['python main.py'] };

describe('applyPluginDefaults', () => {
  it('applies an entry whose type is a package prefix of the task type', () => {
    const f = flow([python], { pluginDefaults: [{ type: 'io.kestra.plugin.scripts', values: { containerImage: 'python:3.12-slim', beforeCommands: ['pip install x'] } }] });
    expect(applyPluginDefaults(f, python, resolve)).toEqual({ ...python, containerImage: 'python:3.12-slim', beforeCommands: ['pip install x'] });
  });

  it('matches whole name segments only, and case-insensitively', () => {
    const partial = flow([python], { pluginDefaults: [{ type: 'io.kestra.plugin.scr', values: { containerImage: 'no' } }] });
    expect(applyPluginDefaults(partial, python, resolve)).toEqual(python);
    const otherPackage = flow([python], { pluginDefaults: [{ type: 'io.kestra.plugin.scripts.shell', values: { containerImage: 'no' } }] });
    expect(applyPluginDefaults(otherPackage, python, resolve)).toEqual(python);
    const exact = flow([python], { pluginDefaults: [{ type: 'IO.KESTRA.PLUGIN.SCRIPTS.PYTHON.COMMANDS', values: { containerImage: 'yes' } }] });
    expect(applyPluginDefaults(exact, python, resolve)).toMatchObject({ containerImage: 'yes' });
  });

  it('matches an entry naming an alias of the task type, and a task written with an alias', () => {
    const log: TaskSpec = { id: 'log', type: 'io.kestra.plugin.core.log.Log', message: 'hi' };
    const byAlias = flow([log], { pluginDefaults: [{ type: 'io.kestra.core.tasks.log.Log', values: { level: 'WARN' } }] });
    expect(applyPluginDefaults(byAlias, log, resolve)).toEqual({ ...log, level: 'WARN' });

    const legacy: TaskSpec = { id: 'log', type: 'io.kestra.core.tasks.log.Log', message: 'hi' };
    const byCanonical = flow([legacy], { pluginDefaults: [{ type: 'io.kestra.plugin.core.log.Log', values: { level: 'ERROR' } }] });
    expect(applyPluginDefaults(byCanonical, legacy, resolve)).toEqual({ ...legacy, level: 'ERROR' });
  });

  it('resolves aliases with the real task registry', () => {
    const registries = createDefaultRegistries();
    const real: TypeResolver = (type) => registries.tasks.find(type);
    const legacy: TaskSpec = { id: 'log', type: 'io.kestra.core.tasks.log.Log', message: 'hi' };
    const f = flow([legacy], { pluginDefaults: [{ type: 'io.kestra.plugin.core.log', values: { level: 'DEBUG' } }] });
    expect(applyPluginDefaults(f, legacy, real)).toEqual({ ...legacy, level: 'DEBUG' });
  });

  it("keeps the task's own value unless the entry is forced", () => {
    const task: TaskSpec = { ...python, containerImage: 'mine:1' };
    const soft = flow([task], { pluginDefaults: [{ type: 'io.kestra.plugin.scripts', values: { containerImage: 'default:1', timeout: 'PT1M' } }] });
    expect(applyPluginDefaults(soft, task, resolve)).toMatchObject({ containerImage: 'mine:1', timeout: 'PT1M' });
    const forced = flow([task], { pluginDefaults: [{ type: 'io.kestra.plugin.scripts', forced: true, values: { containerImage: 'forced:1' } }] });
    expect(applyPluginDefaults(forced, task, resolve)).toMatchObject({ containerImage: 'forced:1', commands: ['python main.py'] });
  });

  it('merges nested objects key by key (a default docker.image next to the task docker.config)', () => {
    const task: TaskSpec = { ...python, docker: { config: { auths: { 'registry.example': { auth: 'x' } } } } };
    const f = flow([task], { pluginDefaults: [{ type: 'io.kestra.plugin.scripts', values: { docker: { image: 'python:3.12', pullPolicy: 'IF_NOT_PRESENT' } } }] });
    expect(applyPluginDefaults(f, task, resolve)).toEqual({
      ...python,
      docker: { image: 'python:3.12', pullPolicy: 'IF_NOT_PRESENT', config: { auths: { 'registry.example': { auth: 'x' } } } },
    });
    // Arrays are values, not merged.
    const lists = flow([python], { pluginDefaults: [{ type: 'io.kestra.plugin.scripts', values: { commands: ['default'] } }] });
    expect(applyPluginDefaults(lists, python, resolve)).toMatchObject({ commands: ['python main.py'] });
  });

  it('gives the children of a WorkingDirectory their defaults (and the parent its own)', () => {
    const wd: TaskSpec = {
      id: 'wd',
      type: 'io.kestra.plugin.core.flow.WorkingDirectory',
      tasks: [
        { id: 'py', type: 'io.kestra.plugin.scripts.python.Commands', commands: ['python a.py'] },
        { id: 'sh', type: 'io.kestra.plugin.scripts.shell.Commands', commands: ['ls'], containerImage: 'alpine' },
        { id: 'log', type: 'io.kestra.plugin.core.log.Log', message: 'done' },
      ],
    };
    const f = flow([wd], {
      pluginDefaults: [
        { type: 'io.kestra.plugin.scripts', values: { containerImage: 'python:3.12' } },
        { type: 'io.kestra.core.tasks.flows.WorkingDirectory', values: { timeout: 'PT10M' } },
      ],
    });
    const applied = applyPluginDefaults(f, wd, resolve);
    expect(applied).toEqual({
      ...wd,
      timeout: 'PT10M',
      tasks: [
        { id: 'py', type: 'io.kestra.plugin.scripts.python.Commands', commands: ['python a.py'], containerImage: 'python:3.12' },
        { id: 'sh', type: 'io.kestra.plugin.scripts.shell.Commands', commands: ['ls'], containerImage: 'alpine' },
        { id: 'log', type: 'io.kestra.plugin.core.log.Log', message: 'done' },
      ],
    });
    // The flow's own task is not modified.
    expect(wd.tasks).toEqual(f.tasks[0]?.tasks);
    expect((wd.tasks as TaskSpec[])[0]).not.toHaveProperty('containerImage');
  });

  it('applies the deprecated taskDefaults, after pluginDefaults', () => {
    const f = flow([python], {
      taskDefaults: [{ type: 'io.kestra.plugin.scripts.python.Commands', values: { containerImage: 'legacy:1', warningOnStdErr: false } }],
    });
    expect(applyPluginDefaults(f, python, resolve)).toEqual({ ...python, containerImage: 'legacy:1', warningOnStdErr: false });
    const both = flow([python], {
      pluginDefaults: [{ type: 'io.kestra.plugin.scripts', values: { containerImage: 'new:1' } }],
      taskDefaults: [{ type: 'io.kestra.plugin.scripts', values: { containerImage: 'legacy:1', timeout: 'PT1M' } }],
    });
    // Both apply: the one written first (pluginDefaults) keeps its value, as a task value would.
    expect(applyPluginDefaults(both, python, resolve)).toMatchObject({ containerImage: 'new:1', timeout: 'PT1M' });
  });

  it('returns the same task object when the flow has no defaults', () => {
    expect(applyPluginDefaults(flow([python]), python, resolve)).toBe(python);
    expect(applyPluginDefaults(flow([python], { pluginDefaults: [], taskDefaults: [] }), python, resolve)).toBe(python);
  });

  it('leaves a task untouched when no entry matches, whatever the resolver knows', () => {
    const unknown: TaskSpec = { id: 'x', type: 'com.example.Unknown', a: 1 };
    const f = flow([unknown], { pluginDefaults: [{ type: 'io.kestra.plugin.scripts', values: { containerImage: 'no' } }] });
    expect(applyPluginDefaults(f, unknown, resolve)).toEqual(unknown);
  });
});
