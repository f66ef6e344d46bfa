/**
 * A line diff (Myers' O(ND) algorithm): the shortest edit script turning `before` into `after`, as a list of lines
 * marked kept, added or removed, each with its line number on either side. Pure, no dependency.
 */

export type DiffKind = 'same' | 'add' | 'del';

export interface DiffLine {
  readonly kind: DiffKind;
  readonly text: string;
  /** 1-based line number in `before` (kept and removed lines). */
  readonly oldLine?: number;
  /** 1-based line number in `after` (kept and added lines). */
  readonly newLine?: number;
}

/** Split a text into lines; a final newline does not make an extra empty line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The diff of two texts, line by line. Common lines at both ends are taken off first (most revisions change a few
 * lines), then Myers' greedy algorithm finds a shortest edit script for the middle; removals come before additions
 * within a change.
 */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = splitLines(before);
  const b = splitLines(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffLine[] = [];
  for (let i = 0; i < start; i++) out.push({ kind: 'same', text: a[i]!, oldLine: i + 1, newLine: i + 1 });
  for (const op of myers(a.slice(start, endA), b.slice(start, endB))) {
    if (op.kind === 'same') out.push({ kind: 'same', text: op.text, oldLine: start + op.i + 1, newLine: start + op.j + 1 });
    else if (op.kind === 'del') out.push({ kind: 'del', text: op.text, oldLine: start + op.i + 1 });
    else out.push({ kind: 'add', text: op.text, newLine: start + op.j + 1 });
  }
  for (let k = 0; endA + k < a.length; k++) out.push({ kind: 'same', text: a[endA + k]!, oldLine: endA + k + 1, newLine: endB + k + 1 });
  return out;
}

interface Op {
  readonly kind: DiffKind;
  readonly text: string;
  /** Index in a (same, del). */
  readonly i: number;
  /** Index in b (same, add). */
  readonly j: number;
}

/** Myers' greedy forward algorithm, keeping each round's frontier to walk the path back. */
function myers(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((text, j) => ({ kind: 'add', text, i: 0, j }));
  if (m === 0) return a.map((text, i) => ({ kind: 'del', text, i, j: 0 }));
  const max = n + m;
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)) x = v[offset + k + 1]!;
      else x = v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
    v = next;
  }
  trace.push(v.slice());

  // Walk back from (n, m) through each round's frontier.
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 2; d >= 0; d--) {
    const prev = trace[d]!;
    const k = x - y;
    let prevK: number;
    if (d === 0) prevK = 0;
    else if (k === -d || (k !== d && prev[offset + k - 1]! < prev[offset + k + 1]!)) prevK = k + 1;
    else prevK = k - 1;
    const prevX = d === 0 ? 0 : prev[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ kind: 'same', text: a[x]!, i: x, j: y });
    }
    if (d === 0) break;
    if (x === prevX) {
      y--;
      ops.push({ kind: 'add', text: b[y]!, i: x, j: y });
    } else {
      x--;
      ops.push({ kind: 'del', text: a[x]!, i: x, j: y });
    }
  }
  ops.reverse();
  return ops;
}

/** A run of kept lines longer than twice the context is folded: the lines around changes, and folds between. */
export type DiffBlock = { readonly type: 'lines'; readonly lines: readonly DiffLine[] } | { readonly type: 'fold'; readonly lines: readonly DiffLine[] };

export function foldUnchanged(lines: readonly DiffLine[], context: number): DiffBlock[] {
  const blocks: DiffBlock[] = [];
  let current: DiffLine[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.kind !== 'same') {
      current.push(lines[i]!);
      i++;
      continue;
    }
    let j = i;
    while (j < lines.length && lines[j]!.kind === 'same') j++;
    const run = lines.slice(i, j);
    const head = i === 0 ? 0 : context;
    const tail = j === lines.length ? 0 : context;
    if (run.length > head + tail + 1) {
      current.push(...run.slice(0, head));
      if (current.length > 0) blocks.push({ type: 'lines', lines: current });
      blocks.push({ type: 'fold', lines: run.slice(head, run.length - tail) });
      current = run.slice(run.length - tail);
    } else current.push(...run);
    i = j;
  }
  if (current.length > 0) blocks.push({ type: 'lines', lines: current });
  return blocks;
}
