// Loaded with `--require` into each server process of `bench:e2e --cpu-profile` (issue #20), local or distributed:
// the first SIGUSR2 starts a sampling CPU profile (0.5 ms), the next writes it as JSON to SLUICE_BENCH_PROFILE_FILE
// (through a `.partial` file and a rename, so a reader never sees half of it). Startup is not in it. Bench code only:
// no Sluice process loads it otherwise.
'use strict';
const { Session } = require('node:inspector');
const { renameSync, writeFileSync } = require('node:fs');

const file = process.env.SLUICE_BENCH_PROFILE_FILE;
if (file) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')));
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      if (error) {
        process.stderr.write(`bench profile: ${error.message}\n`);
        return;
      }
      writeFileSync(`${file}.partial`, JSON.stringify(result.profile));
      renameSync(`${file}.partial`, file);
    });
  });
}
