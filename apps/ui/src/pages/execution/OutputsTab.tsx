/**
 * The Outputs tab: the execution's flow outputs and every task run's outputs, as collapsible trees. Internal-storage
 * files (`kestra://...`) get a preview (the first 64 KiB as text) and a download.
 */
import { useMemo, useState } from 'react';
import { EmptyState, StateBadge } from '../../components/common';
import { isTerminal } from '../../types';
import type { Execution } from '../../types';
import { runLabel } from './model';
import { TreeEntry, ValueTree } from './parts';

const PAGE = 200;

export default function OutputsTab({ execution }: { execution: Execution }) {
  const [shown, setShown] = useState(PAGE);
  const [filter, setFilter] = useState('');
  const withOutputs = useMemo(() => (execution.taskRunList ?? []).filter((run) => run.outputs && Object.keys(run.outputs).length > 0), [execution.taskRunList]);
  const needle = filter.trim().toLowerCase();
  const runs = needle ? withOutputs.filter((run) => runLabel(run).toLowerCase().includes(needle)) : withOutputs;
  const flowOutputs = execution.outputs ?? {};
  const running = !isTerminal(execution.state.current);

  return (
    <div className="exec-outputs stack">
      <section className="card" aria-labelledby="flow-outputs-title" data-testid="flow-outputs">
        <h2 id="flow-outputs-title" className="exec-section-title">
          Flow outputs
        </h2>
        <ValueTree
          value={flowOutputs}
          executionId={execution.id}
          empty={running ? 'The flow outputs are computed when the execution ends.' : "This execution has no flow outputs (the flow declares none under `outputs`, or it did not succeed)."}
        />
      </section>
      <section className="card" aria-labelledby="task-outputs-title" data-testid="task-outputs">
        <div className="toolbar">
          <h2 id="task-outputs-title" className="exec-section-title">
            Task outputs
          </h2>
          <span className="muted small">
            {withOutputs.length} task run{withOutputs.length === 1 ? '' : 's'} with outputs
          </span>
          {withOutputs.length > 10 ? (
            <input type="search" placeholder="Filter by task id" aria-label="Filter the task runs by task id" value={filter} onChange={(event) => setFilter(event.target.value)} />
          ) : null}
        </div>
        {withOutputs.length === 0 ? (
          <EmptyState title="No task output yet">
            {running ? 'Task runs show their outputs here once they end.' : 'No task run of this execution produced outputs.'}
          </EmptyState>
        ) : runs.length === 0 ? (
          <p className="muted">No task id matches “{filter}”.</p>
        ) : (
          <ul className="exec-tree exec-tree-root">
            {runs.slice(0, shown).map((run, index) => (
              <TreeEntry
                key={run.id}
                name={
                  <span className="exec-run-name" data-testid="output-run" data-task-id={run.taskId}>
                    {runLabel(run)} <StateBadge state={run.state.current} />
                  </span>
                }
                value={run.outputs}
                executionId={execution.id}
                defaultOpen={runs.length <= 20 || index === 0}
              />
            ))}
            {runs.length > shown ? (
              <li>
                <button type="button" className="exec-link-button" onClick={() => setShown(shown + PAGE)}>
                  show {Math.min(PAGE, runs.length - shown)} more of {runs.length - shown}
                </button>
              </li>
            ) : null}
          </ul>
        )}
      </section>
    </div>
  );
}
