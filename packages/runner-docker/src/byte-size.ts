import { SluiceError } from '@sluice/core';

const units: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Docker's size notation (`512m`, `1g`, `1.5G`, `100k`, `1024`, also `512MB`/`512MiB`), binary units as the Docker
 * CLI reads them, to bytes. `what` names the option in the error.
 */
export function parseByteSize(value: string | number, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(String(value));
  if (!match) {
    throw new SluiceError('SLU_RUNNER_START_FAILED', {
      reason: `${what} "${String(value)}" is not a size such as 512m or 1g`,
    });
  }
  return Math.floor(Number(match[1]) * units[match[2]!.toLowerCase()]!);
}
