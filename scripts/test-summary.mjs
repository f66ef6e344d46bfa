// Print the closing line CI reads: `N passed, N failed[, N skipped]`, summed over every test file of the vitest
// JSON report. Exits non-zero when a test failed, the report is missing, or another step (lint, ...) failed.
import { existsSync, readFileSync } from 'node:fs';

const [reportPath, failedStepsArg = '0'] = process.argv.slice(2);
const failedSteps = Number(failedStepsArg);
if (!reportPath || !existsSync(reportPath)) {
  console.log('test report missing: the test run did not complete');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const file of report.testResults ?? []) {
  for (const test of file.assertionResults ?? []) {
    if (test.status === 'passed') passed++;
    else if (test.status === 'failed') {
      failed++;
      failures.push(`${file.name}: ${test.fullName ?? test.title}`);
    }
    else skipped++;
  }
  // A file that failed to load has no assertions but must count as a failure.
  if ((file.assertionResults ?? []).length === 0 && file.status === 'failed') {
    failed++;
    failures.push(`${file.name}: did not load (${String(file.message ?? '').split('\n')[0]})`);
  }
}
// Name the failed tests just above the closing line, where a reader of the log's tail sees them.
for (const failure of failures) console.log(`failed: ${failure.replace(process.cwd() + '/', '')}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || failedSteps > 0 || passed === 0 ? 1 : 0);
