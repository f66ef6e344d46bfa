import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RepoSetup } from './git-server.js';

/**
 * The seed document: the text of Kestra's page on DOCKER and PROCESS runners, the project's source document, kept in
 * the repository (`fixtures/seed/`) so that its flows can be checked against it in any clone.
 */
export const seedDir = fileURLToPath(new URL('../fixtures/seed/', import.meta.url));

/** The flows of the seed document, verbatim, in document order. */
export function seedFlows(): string[] {
  const text = readdirSync(seedDir)
    .sort()
    .map((f) => readFileSync(seedDir + f, 'utf8'))
    .join('\n');
  return [...text.matchAll(/\nyaml\n([\s\S]*?)(?=\n\n[A-Z]|$)/g)].map((m) => m[1] ?? '');
}

/**
 * The repository the seed's python_in_container flow clones (github.com/kestra-io/examples), for a git server
 * fixture: `startGitServer({ repos: { examples: seedExamplesRepo } })`. Its `scripts/etl_script.py` writes five rows
 * to `squares.csv` and prints `wrote 5 rows with python <major>`.
 */
export const seedExamplesRepo: RepoSetup = async (repo) => {
  await repo.commit('etl', {
    'scripts/etl_script.py': [
      'import csv, sys',
      'rows = [{"id": i, "square": i * i} for i in range(1, 6)]',
      'with open("squares.csv", "w", newline="") as f:',
      '    writer = csv.DictWriter(f, fieldnames=["id", "square"])',
      '    writer.writeheader()',
      '    writer.writerows(rows)',
      'print(f"wrote {len(rows)} rows with python {sys.version_info.major}")',
      '',
    ].join('\n'),
  });
};

/** Where {@link pointSeedAtFixtures} points the python_in_container flow. */
export interface SeedFixtures {
  /** Clone URL replacing https://github.com/kestra-io/examples: the git server's `url('examples')`. */
  readonly gitUrl: string;
  /** `host:port` of the private registry (plain HTTP): the image becomes `<host>/sluice/python:3`. */
  readonly registryHost: string;
}

/**
 * The seed's python_in_container flow (`source`) pointed at local fixtures: its clone URL at `gitUrl`, its image at
 * `${registryHost}/sluice/python:3` and the registry key of `docker.config` at `"http://${registryHost}"`. Nothing
 * else changes.
 */
export function pointSeedAtFixtures(source: string, fixtures: SeedFixtures): string {
  return source
    .replace('https://github.com/kestra-io/examples', fixtures.gitUrl)
    .replace('annageller/kestra:latest', `${fixtures.registryHost}/sluice/python:3`)
    .replace('"https://index.docker.io/v1/"', `"http://${fixtures.registryHost}"`);
}
