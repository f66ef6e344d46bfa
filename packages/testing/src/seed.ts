import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The shared seed document (Kestra's page on DOCKER and PROCESS runners), beside the repository. */
export const seedDir = fileURLToPath(new URL('../../../../shared/seed/', import.meta.url));

/** The flows of the seed document, verbatim, in document order. */
export function seedFlows(): string[] {
  const text = readdirSync(seedDir)
    .sort()
    .map((f) => readFileSync(seedDir + f, 'utf8'))
    .join('\n');
  return [...text.matchAll(/\nyaml\n([\s\S]*?)(?=\n\n[A-Z]|$)/g)].map((m) => m[1] ?? '');
}
