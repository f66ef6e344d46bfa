import { parseDuration, SluiceError } from '@sluice/core';
import type { RegistryCredentials } from './registry-auth.js';

export type PullPolicy = 'IF_NOT_PRESENT' | 'ALWAYS' | 'NEVER';

/** A GPU (or other device) request, as Kestra's `deviceRequests` spell it. */
export interface DeviceRequest {
  readonly driver?: string;
  readonly count?: number;
  readonly deviceIds?: readonly string[];
  readonly capabilities?: readonly (readonly string[])[];
  readonly options?: Readonly<Record<string, string>>;
}

/**
 * The per-command options (`taskRunner` properties or the legacy `docker:` block), already rendered and validated
 * against the definition's schema; read here once, with types.
 */
export interface DockerCommandOptions {
  readonly host?: string;
  readonly image?: string;
  readonly config?: unknown;
  readonly credentials?: RegistryCredentials;
  readonly user?: string;
  readonly entryPoint?: readonly string[];
  readonly extraHosts?: readonly string[];
  readonly networkMode?: string;
  readonly volumes?: readonly string[];
  readonly pullPolicy: PullPolicy;
  readonly deviceRequests?: readonly DeviceRequest[];
  readonly cpus?: number;
  readonly memory?: Readonly<Record<string, unknown>>;
  readonly shmSize?: string;
  readonly privileged?: boolean;
  /** Milliseconds between SIGTERM and SIGKILL on abort; absent: SIGKILL at once. */
  readonly killGracePeriodMs?: number;
}

function invalid(reason: string): SluiceError {
  return new SluiceError('SLU_RUNNER_START_FAILED', { reason });
}

const optionalString = (raw: Record<string, unknown>, key: string): string | undefined => {
  const value = raw[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(`docker option ${key} must be a string`);
  return value;
};

const optionalStrings = (raw: Record<string, unknown>, key: string): readonly string[] | undefined => {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalid(`docker option ${key} must be a list of strings`);
  }
  return value as string[];
};

const optionalObject = <T>(raw: Record<string, unknown>, key: string): T | undefined => {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`docker option ${key} must be a mapping`);
  return value as T;
};

export function readCommandOptions(raw: Readonly<Record<string, unknown>>): DockerCommandOptions {
  const pullPolicy = raw.pullPolicy ?? 'IF_NOT_PRESENT';
  if (pullPolicy !== 'IF_NOT_PRESENT' && pullPolicy !== 'ALWAYS' && pullPolicy !== 'NEVER') {
    throw invalid(`pullPolicy must be IF_NOT_PRESENT, ALWAYS or NEVER, got ${String(pullPolicy)}`);
  }
  const cpu = optionalObject<{ cpus?: unknown }>(raw, 'cpu');
  const cpus = cpu?.cpus === undefined ? undefined : Number(cpu.cpus);
  if (cpus !== undefined && !(cpus > 0)) throw invalid(`cpu.cpus must be a positive number, got ${String(cpu?.cpus)}`);
  const grace = optionalString(raw, 'killGracePeriod');
  const deviceRequests = raw.deviceRequests;
  if (deviceRequests !== undefined && !Array.isArray(deviceRequests)) throw invalid('docker option deviceRequests must be a list');
  const privileged = raw.privileged;
  return {
    host: optionalString(raw, 'host'),
    image: optionalString(raw, 'image'),
    config: raw.config ?? undefined,
    credentials: optionalObject<RegistryCredentials>(raw, 'credentials'),
    user: optionalString(raw, 'user'),
    entryPoint: optionalStrings(raw, 'entryPoint'),
    extraHosts: optionalStrings(raw, 'extraHosts'),
    networkMode: optionalString(raw, 'networkMode'),
    volumes: optionalStrings(raw, 'volumes'),
    pullPolicy,
    deviceRequests: deviceRequests as DeviceRequest[] | undefined,
    cpus,
    memory: optionalObject<Record<string, unknown>>(raw, 'memory'),
    shmSize: optionalString(raw, 'shmSize'),
    privileged: typeof privileged === 'boolean' ? privileged : undefined,
    killGracePeriodMs: grace === undefined ? undefined : parseDuration(grace),
  };
}
