/**
 * Two texts compared line by line (textDiff.ts): unified (one column, `-` and `+` lines) or side by side. Runs of
 * unchanged lines far from a change are folded behind a button that shows them.
 */
import { Fragment, useMemo, useState } from 'react';
import { diffLines, foldUnchanged } from './textDiff';
import type { DiffBlock, DiffLine } from './textDiff';
import './lineDiff.css';

export interface LineDiffProps {
  readonly before: string;
  readonly after: string;
  readonly mode?: 'unified' | 'split';
  /** Unchanged lines kept around each change (default 3). */
  readonly context?: number;
  readonly beforeLabel?: string;
  readonly afterLabel?: string;
}

export default function LineDiff({ before, after, mode = 'unified', context = 3, beforeLabel, afterLabel }: LineDiffProps) {
  const lines = useMemo(() => diffLines(before, after), [before, after]);
  const blocks = useMemo(() => foldUnchanged(lines, context), [lines, context]);
  const [opened, setOpened] = useState<ReadonlySet<number>>(new Set());
  const added = lines.filter((l) => l.kind === 'add').length;
  const removed = lines.filter((l) => l.kind === 'del').length;

  const open = (index: number): void => setOpened((current) => new Set(current).add(index));

  return (
    <div className="line-diff" data-testid="line-diff">
      <div className="line-diff-summary small">
        {added === 0 && removed === 0 ? (
          <span className="muted">No difference: the two texts are identical.</span>
        ) : (
          <>
            <span className="diff-count-add">+{added}</span> <span className="diff-count-del">−{removed}</span>{' '}
            <span className="muted">
              line{added + removed === 1 ? '' : 's'} changed
            </span>
          </>
        )}
      </div>
      <div className="line-diff-scroll">
        <table className={`line-diff-table ${mode}`}>
          {mode === 'split' ? (
            <colgroup>
              <col className="diff-num-col" />
              <col />
              <col className="diff-num-col" />
              <col />
            </colgroup>
          ) : null}
          {mode === 'split' && (beforeLabel || afterLabel) ? (
            <thead>
              <tr>
                <th colSpan={2}>{beforeLabel}</th>
                <th colSpan={2}>{afterLabel}</th>
              </tr>
            </thead>
          ) : null}
          <tbody>
            {blocks.map((block, index) =>
              block.type === 'fold' && !opened.has(index) ? (
                <tr key={index} className="diff-fold">
                  <td colSpan={mode === 'split' ? 4 : 3}>
                    <button type="button" className="ghost small" onClick={() => open(index)}>
                      ⋯ show {block.lines.length} unchanged line{block.lines.length === 1 ? '' : 's'}
                    </button>
                  </td>
                </tr>
              ) : (
                <Fragment key={index}>{mode === 'split' ? <SplitRows block={block} /> : <UnifiedRows block={block} />}</Fragment>
              ),
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

const SIGN = { same: ' ', add: '+', del: '−' } as const;

function UnifiedRows({ block }: { block: DiffBlock }) {
  return (
    <>
      {block.lines.map((line, i) => (
        <tr key={i} className={`diff-${line.kind}`} data-diff={line.kind}>
          <td className="diff-num">{line.oldLine ?? ''}</td>
          <td className="diff-num">{line.newLine ?? ''}</td>
          <td className="diff-text">
            <span className="diff-sign" aria-label={line.kind === 'add' ? 'added' : line.kind === 'del' ? 'removed' : undefined}>
              {SIGN[line.kind]}
            </span>
            {line.text}
          </td>
        </tr>
      ))}
    </>
  );
}

/** Side by side: a change's removed lines face its added lines, row by row. */
function SplitRows({ block }: { block: DiffBlock }) {
  const rows: { left?: DiffLine; right?: DiffLine }[] = [];
  let i = 0;
  const lines = block.lines;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.kind === 'same') {
      rows.push({ left: line, right: line });
      i++;
      continue;
    }
    const dels: DiffLine[] = [];
    const adds: DiffLine[] = [];
    while (i < lines.length && lines[i]!.kind === 'del') dels.push(lines[i++]!);
    while (i < lines.length && lines[i]!.kind === 'add') adds.push(lines[i++]!);
    for (let k = 0; k < Math.max(dels.length, adds.length); k++) {
      const left = dels[k];
      const right = adds[k];
      rows.push({ ...(left ? { left } : {}), ...(right ? { right } : {}) });
    }
  }
  return (
    <>
      {rows.map((row, k) => {
        const changed = row.left?.kind !== 'same';
        return (
          <tr key={k} data-diff={changed ? 'change' : 'same'}>
            <td className="diff-num">{row.left?.oldLine ?? ''}</td>
            <td className={`diff-text ${row.left ? (changed ? 'diff-del' : '') : 'diff-empty'}`} data-diff={row.left && changed ? 'del' : undefined}>
              {row.left ? (
                <>
                  <span className="diff-sign">{changed ? SIGN.del : ' '}</span>
                  {row.left.text}
                </>
              ) : null}
            </td>
            <td className="diff-num">{row.right?.newLine ?? ''}</td>
            <td className={`diff-text ${row.right ? (changed ? 'diff-add' : '') : 'diff-empty'}`} data-diff={row.right && changed ? 'add' : undefined}>
              {row.right ? (
                <>
                  <span className="diff-sign">{changed ? SIGN.add : ' '}</span>
                  {row.right.text}
                </>
              ) : null}
            </td>
          </tr>
        );
      })}
    </>
  );
}
