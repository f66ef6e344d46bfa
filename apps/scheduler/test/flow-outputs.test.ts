import type { Flow } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { flowOutputs } from '../src/flow-outputs.js';

const flow = (outputs: Flow['outputs']): Flow => ({ id: 'f', namespace: 'n', tasks: [], outputs }) as unknown as Flow;
const now = new Date('2026-11-29T00:00:00.000Z');
const variables = { outputs: { produce: { vars: { count: 42, rows: [1, 2] } } }, inputs: { who: 'ops' } };

describe('flowOutputs', () => {
  it('renders each value and types it like an input (STRING when no type is given)', async () => {
    const result = await flowOutputs(
      flow([
        { id: 'total', type: 'INT', value: '{{ outputs.produce.vars.count }}' },
        { id: 'rows', type: 'JSON', value: '{{ outputs.produce.vars.rows | json }}' },
        { id: 'who', value: 'by {{ inputs.who }}' },
      ]),
      variables,
      now,
    );
    expect(result).toEqual({ outputs: { total: 42, rows: [1, 2], who: 'by ops' } });
  });

  it('names the output and the problem when a value cannot be rendered or typed', async () => {
    expect(await flowOutputs(flow([{ id: 'missing', type: 'STRING', value: '{{ outputs.nope.value }}' }]), variables, now)).toEqual({
      error: expect.stringMatching(/^flow output "missing" could not be rendered: .*nope/),
    });
    expect(await flowOutputs(flow([{ id: 'total', type: 'INT', value: 'forty-two' }]), variables, now)).toEqual({
      error: expect.stringMatching(/^flow output "total" is not a valid INT: /),
    });
  });

  it('has no secret(): the scheduler never reads secrets', async () => {
    expect(await flowOutputs(flow([{ id: 'token', type: 'STRING', value: "{{ secret('API_TOKEN') }}" }]), variables, now)).toEqual({
      error: expect.stringContaining('secret() is not available in flow outputs: the scheduler never reads secrets'),
    });
  });
});
