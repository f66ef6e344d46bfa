/**
 * An execution's task runs as the scheduler keeps them between steps: an array, copied once per step (a step that is
 * abandoned must not change the copy it started from), and written in place by id. Finding a run by id must not cost
 * a pass over the array, nor a map built per step: a ForEach over 10,000 values takes over a thousand steps.
 *
 * Every copy made with {@link copyRuns} shares one tracking record with the array it came from:
 * - `positions`: where each run id was put. Runs are only replaced in place or appended, so a position stays right
 *   in every copy that holds the run; a copy that never got the run (another branch of copies, an abandoned step)
 *   is caught by checking the id found there, and then searched once.
 * - `journal`: the ids written, in order, so that whoever keeps state derived from the runs (the scheduler's run
 *   index) catches up with what changed since it last looked, instead of comparing every run.
 * An array read from Postgres has no record until its first write builds one.
 */
interface Tracking {
  readonly positions: Map<string, number>;
  /** Run ids written, oldest first; `journal[0]` is write number `base`. */
  journal: string[];
  base: number;
}

interface Identified {
  readonly id: string;
}

/** Kept ids of writes before the journal is cut (a reader that fell further behind looks at every run). */
const JOURNAL_LIMIT = 65_536;

const tracking = new WeakMap<readonly Identified[], Tracking>();

function trackingOf(runs: readonly Identified[]): Tracking {
  let found = tracking.get(runs);
  if (!found) {
    found = { positions: new Map(runs.map((run, i) => [run.id, i])), journal: [], base: 0 };
    tracking.set(runs, found);
  }
  return found;
}

/** A copy of `runs` to write to, sharing its tracking. */
export function copyRuns<T extends Identified>(runs: readonly T[]): T[] {
  const copy = [...runs];
  const found = tracking.get(runs);
  if (found) tracking.set(copy, found);
  return copy;
}

function positionOf(runs: readonly Identified[], found: Tracking, id: string): number | undefined {
  const at = found.positions.get(id);
  if (at === undefined) return undefined;
  if (runs[at]?.id === id) return at;
  // Put elsewhere in another copy: search this one once, and remember where it is here.
  const here = runs.findIndex((run) => run.id === id);
  if (here < 0) return undefined;
  found.positions.set(id, here);
  return here;
}

/** The run `id` of `runs`, if it has it. */
export function findRun<T extends Identified>(runs: readonly T[], id: string): T | undefined {
  const at = positionOf(runs, trackingOf(runs), id);
  return at === undefined ? undefined : runs[at];
}

/** Replace the run with `run`'s id in place, or append `run`. */
export function upsertRun<T extends Identified>(runs: T[], run: T): void {
  const found = trackingOf(runs);
  const at = positionOf(runs, found, run.id);
  if (at !== undefined) runs[at] = run;
  else found.positions.set(run.id, runs.push(run) - 1);
  found.journal.push(run.id);
  if (found.journal.length > JOURNAL_LIMIT) {
    found.base += found.journal.length;
    found.journal = [];
  }
}

/** A reader's place in the writes to one lineage of copies. */
export interface RunMark {
  readonly tracking: object;
  readonly at: number;
}

/** Where the writes to `runs` stand now: pass it to {@link runsWrittenSince} later. */
export function runsMark(runs: readonly Identified[]): RunMark {
  const found = trackingOf(runs);
  return { tracking: found, at: found.base + found.journal.length };
}

/**
 * The ids written to `runs` (or to the copies it shares its tracking with) since `mark`, oldest first, with repeats;
 * undefined when that cannot be told (another lineage, an array read afresh, a journal cut since): look at every run.
 */
export function runsWrittenSince(runs: readonly Identified[], mark: RunMark | undefined): readonly string[] | undefined {
  const found = tracking.get(runs);
  if (!mark || !found || mark.tracking !== found || mark.at < found.base) return undefined;
  return found.journal.slice(mark.at - found.base);
}
