import { describe, expect, it } from 'vitest';
import * as engine from './index.js';

describe('@sluice/engine', () => {
  it('exports the engine API', () => {
    for (const name of ['decide', 'admit', 'workerGroupOf', 'taskTimeoutMs', 'retryDelayMs', 'canRetry', 'retryPolicyOf', 'isTerminalExecutionState', 'isTerminalTaskRunState']) {
      expect(typeof (engine as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
