import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { createFlowValidator, SluiceError } from '@sluice/core';
import type { DocumentValidation, FlowProblem } from '@sluice/core';
import { createDefaultRegistries } from '@sluice/plugins';
import type { CliIO } from '../io.js';
import { fileSchemaCache } from '../schema-cache.js';

export interface ValidateOptions {
  readonly format: 'text' | 'json';
}

/** A problem as `--format json` prints it. */
export interface ReportedProblem {
  readonly file: string;
  readonly document: number;
  readonly line: number;
  readonly column: number;
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

const FLOW_EXTENSIONS = new Set(['.yml', '.yaml']);
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'dist', 'coverage']);

/** One document of a flow file, validated. */
export interface ValidatedDocument {
  readonly file: string;
  readonly result: DocumentValidation;
}

/** Every document of every flow file under `targets` (directories searched recursively), validated locally. */
export async function validateTargets(targets: readonly string[]): Promise<{ documents: ValidatedDocument[]; problems: ReportedProblem[] }> {
  const files: string[] = [];
  for (const target of targets) files.push(...(await findFlowFiles(target)));
  const validator = createFlowValidator(createDefaultRegistries(), { compiledSchemas: fileSchemaCache() });
  const documents: ValidatedDocument[] = [];
  for (const file of files) {
    for (const result of validator.validateSource(await readFile(file, 'utf8'))) documents.push({ file, result });
  }
  return { documents, problems: documents.flatMap((d) => d.result.problems.map((p) => report(d.file, p))) };
}

/** `FILE:LINE:COL: path: message [code]` */
export function problemLine(p: ReportedProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message} [${p.code}]`;
}

/** `sluice flow validate FILE_OR_DIR...`: 0 when every flow is valid, 1 otherwise. */
export async function flowValidateCommand(targets: readonly string[], options: ValidateOptions, io: CliIO): Promise<number> {
  const { documents, problems } = await validateTargets(targets);
  const flows = documents.length;
  if (options.format === 'json') {
    io.stdout(JSON.stringify(problems, null, 2));
  } else {
    for (const p of problems) io.stdout(problemLine(p));
    // Warnings (a deprecated key, say) do not make a flow invalid: shown, exit code unchanged.
    for (const d of documents) for (const w of d.result.warnings ?? []) io.stdout(`${problemLine(report(d.file, w))} (warning)`);
    const invalid = new Set(problems.map((p) => `${p.file}#${p.document}`)).size;
    io.stderr(
      problems.length === 0
        ? `${flows} flow${flows === 1 ? '' : 's'} valid`
        : `${invalid} of ${flows} flow${flows === 1 ? '' : 's'} invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`,
    );
  }
  return problems.length === 0 ? 0 : 1;
}

function report(file: string, problem: FlowProblem): ReportedProblem {
  const { document, line, column, path, code, message } = problem;
  return { file, document, line, column, path, code, message };
}

async function findFlowFiles(target: string): Promise<string[]> {
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new SluiceError('SLU_CLI_FILE_NOT_FOUND', { path: target });
  if (info.isFile()) return [target];
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && !SKIPPED_DIRECTORIES.has(entry.name)) await walk(path);
      } else if (FLOW_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
        found.push(path);
      }
    }
  };
  await walk(target);
  if (found.length === 0) throw new SluiceError('SLU_CLI_NO_FLOWS', { path: target });
  return found;
}
