/**
 * Dev-only fixtures that give tests real services (DESIGN.md §2): a missing service fails the test run when
 * `SLUICE_REQUIRE_SERVICES=1` (CI) and skips it otherwise. Start the services with `sudo bash scripts/services.sh`.
 */
export { describeWithDocker, dockerTestEnv, requireDocker, servicesRequired } from './docker.js';
export type { DockerTestEnv, DockerTestEnvOptions } from './docker.js';
export * from './git-server.js';
export { createTestDatabase, postgresUnavailable, testPostgresUrl, type TestDatabase } from './postgres.js';
export { checkRepoBoundary, findBoundaryViolations, isBoundaryChecked, type BoundaryFinding } from './repo-boundary.js';
export { isProcessGone, processesUnder } from './processes.js';
export { describeWithRedis, freePort, redisPing, startRedis, type RedisServer } from './redis.js';
export { RestartableRedis, StallingProxy, TcpProxy, waitFor } from './faults.js';
export { kestraExample, kestraExamples, kestraExamplesDir } from './kestra-examples.js';
export { pointSeedAtFixtures, seedDir, seedExamplesRepo, seedFlows, type SeedFixtures } from './seed.js';
