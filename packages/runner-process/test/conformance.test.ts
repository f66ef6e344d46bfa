import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runnerConformance } from '@sluice/plugin-api/testing';
import { isProcessGone, processesUnder } from '@sluice/testing';
import { processRunner } from '../src/index.js';

runnerConformance('PROCESS', async () => {
  const workRoot = await mkdtemp(join(tmpdir(), 'sluice-process-conformance-'));
  return {
    runner: processRunner.create!({}),
    workRoot,
    leftovers: () => processesUnder(workRoot),
    isProcessGone,
    cleanup: () => rm(workRoot, { recursive: true, force: true }),
  };
});
