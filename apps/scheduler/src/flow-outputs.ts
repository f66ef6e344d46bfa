/**
 * Flow `outputs` (Kestra's `Flow.outputs`: `[{id, type, value}]`), evaluated when an execution succeeds: each `value`
 * is rendered with the execution's template variables (`outputs.<task>...`, `inputs`, `vars`, `trigger`...) and
 * typed like an input of the same type (INT, JSON, BOOLEAN...). Shared by the scheduler and `sluice run`.
 *
 * The scheduler never sees a secret (workers render task properties), so `secret()` is not available here: an
 * output that calls it fails with that reason. Kestra's executor would render it; Sluice keeps secrets off the
 * scheduler instead.
 */
import { isSluiceError, renderValue, resolveInputs } from '@sluice/core';
import type { Flow, FlowInput } from '@sluice/core';

export type FlowOutputsResult = { readonly outputs: Record<string, unknown> } | { readonly error: string };

const NO_SECRETS = {
  secret: () => {
    throw new Error('secret() is not available in flow outputs: the scheduler never reads secrets');
  },
};

/** The flow's outputs for `variables` (from `templateVariables`), or the first problem as one readable line. */
export async function flowOutputs(flow: Flow, variables: Record<string, unknown>, now: Date): Promise<FlowOutputsResult> {
  const outputs: Record<string, unknown> = {};
  for (const output of flow.outputs ?? []) {
    let rendered: unknown;
    try {
      rendered = await renderValue(output.value, variables, { now: () => now, functions: NO_SECRETS });
    } catch (error) {
      return { error: `flow output "${output.id}" could not be rendered: ${error instanceof Error ? error.message : String(error)}` };
    }
    try {
      const declared = { id: output.id, type: output.type ?? 'STRING', required: true } as FlowInput;
      outputs[output.id] = resolveInputs([declared], { [output.id]: rendered })[output.id];
    } catch (error) {
      const reason = isSluiceError(error) && Array.isArray(error.details.problems) ? (error.details.problems as { message: string }[]).map((p) => p.message).join('; ') : String(error);
      return { error: `flow output "${output.id}" is not a valid ${output.type ?? 'STRING'}: ${reason}` };
    }
  }
  return { outputs };
}
