// Append the test files of one vitest JSON report to another, so a suite run apart from the main one (the fault
// suite) counts in the `N passed, N failed` line of scripts/test-summary.mjs.
//
// Usage: node scripts/merge-test-report.mjs FROM INTO
// - FROM's testResults replace INTO's entries of the same file name, or are appended.
// - FROM missing or unreadable (the suite crashed before reporting): one failed entry named after FROM is appended
//   instead, so the failure counts.
// - INTO missing (the main run wrote no report): nothing is written; test-summary.mjs reports the missing report.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [from, into] = process.argv.slice(2);
if (!from || !into) {
  console.error('usage: node scripts/merge-test-report.mjs FROM INTO');
  process.exit(2);
}
if (!existsSync(into)) {
  console.error(`merge-test-report: ${into} does not exist: nothing merged`);
  process.exit(1);
}
let files;
let ok = true;
try {
  files = JSON.parse(readFileSync(from, 'utf8')).testResults ?? [];
} catch (error) {
  ok = false;
  const message = `no test report at ${from} (${error instanceof Error ? error.message : String(error)}): the suite did not complete`;
  console.error(`merge-test-report: ${message}`);
  files = [{ name: from, status: 'failed', message, assertionResults: [] }];
}
const merged = JSON.parse(readFileSync(into, 'utf8'));
const names = new Set(files.map((file) => file.name));
merged.testResults = [...(merged.testResults ?? []).filter((file) => !names.has(file.name)), ...files];
// The totals vitest wrote, recounted over the merged files.
const tests = merged.testResults.flatMap((file) => file.assertionResults ?? []);
for (const [key, value] of [['numTotalTests', tests.length], ['numPassedTests', tests.filter((t) => t.status === 'passed').length], ['numFailedTests', tests.filter((t) => t.status === 'failed').length]]) {
  if (typeof merged[key] === 'number') merged[key] = value;
}
if (merged.testResults.some((file) => file.status === 'failed') && 'success' in merged) merged.success = false;
writeFileSync(into, JSON.stringify(merged));
process.exit(ok ? 0 : 1);
