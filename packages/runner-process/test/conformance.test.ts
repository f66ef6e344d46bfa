import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runnerConformance } from '@sluice/plugin-api/testing';
import { isProcessGone, processesUnder } from '@sluice/testing';
import { processRunner } from '../src/index.js';

// Both ways of starting a command meet the same contract (ProcessRunnerOptions.spawn).
for (const spawn of ['native', 'helper', 'direct'] as const) {
  runnerConformance(`PROCESS (spawn: ${spawn})`, async () => {
    const workRoot = await mkdtemp(join(tmpdir(), 'sluice-process-conformance-'));
    return {
      runner: processRunner.create!({ spawn }),
      workRoot,
      leftovers: () => processesUnder(workRoot),
      isProcessGone,
      cleanup: () => rm(workRoot, { recursive: true, force: true }),
    };
  });
}
