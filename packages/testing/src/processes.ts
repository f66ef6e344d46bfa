/** Process checks on Linux `/proc`, for tests that prove a runner or worker left no process behind. */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** Live (non-zombie) processes whose working directory is under `root`, described for a failure message. */
export async function processesUnder(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = await readlink(`/proc/${name}/cwd`);
      if (!cwd.startsWith(root)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (state === 'Z' || state === 'X') continue;
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      found.push(`pid ${name} (${cmdline}) in ${cwd}`);
    } catch {
      // The process ended while we looked, or is not ours to inspect.
    }
  }
  return found;
}

/** True when `pid` no longer exists or is a zombie (PID 1 here may never reap orphans). */
export async function isProcessGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}
