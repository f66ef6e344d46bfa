/** The documentation of the task (trigger, runner) under the editor's cursor, from its plugin schema. */
import { ErrorMessage, Spinner } from '../components/common';
import type { PluginDescription } from '../types';
import { propertiesOf } from './vocabulary';

function showDefault(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function DocsPanel({ plugin, type, kind, loading, error }: { plugin?: PluginDescription | undefined; type?: string | undefined; kind?: string | undefined; loading: boolean; error: unknown }) {
  if (error) return <ErrorMessage error={error} title="The plugin documentation could not be loaded" />;
  if (loading) return <Spinner label="Loading plugin documentation…" />;
  if (!plugin) {
    return (
      <div className="docs-empty" role="status">
        {type ? (
          <>
            <h3>Unknown type</h3>
            <p>
              No {kind ?? 'task'} of this server has the type <code>{type}</code>. Check the spelling, or type <code>type: io.kestra.plugin.</code> and
              pick one from the list (Ctrl+Space).
            </p>
          </>
        ) : (
          <>
            <h3>No task under the cursor</h3>
            <p>Put the cursor in a task, a trigger or a task runner to see its documentation: what it does and every property it takes.</p>
          </>
        )}
      </div>
    );
  }
  const properties = propertiesOf(plugin).filter((p) => p.name !== 'id' && p.name !== 'type');
  return (
    <article className="docs" aria-label={`Documentation of ${plugin.type}`}>
      <header>
        <h3 className="docs-title">{plugin.title}</h3>
        <code className="docs-type">{plugin.type}</code>
        {plugin.kind ? <span className="chip small">{plugin.kind}</span> : null}
        {plugin.aliases.length > 0 ? (
          <p className="small muted">
            Also known as:{' '}
            {plugin.aliases.map((alias, i) => (
              <span key={alias}>
                {i > 0 ? ', ' : null}
                <code>{alias}</code>
              </span>
            ))}
          </p>
        ) : null}
      </header>
      {plugin.description ? <p className="docs-description">{plugin.description}</p> : null}
      <h4>Properties</h4>
      {properties.length === 0 ? (
        <p className="muted small">No properties besides the common ones.</p>
      ) : (
        <dl className="docs-properties" data-testid="docs-properties">
          {properties.map((p) => (
            <div key={p.name} className="docs-property" data-property={p.name}>
              <dt>
                <code>{p.name}</code>
                {p.required ? <span className="docs-required">required</span> : null}
                {p.deprecated ? <span className="docs-deprecated">deprecated</span> : null}
                <span className="docs-ptype">{p.type}</span>
              </dt>
              <dd>
                {p.description ? <span>{p.description}</span> : <span className="muted">No description.</span>}
                {p.default !== undefined ? (
                  <span className="docs-default">
                    Default: <code>{showDefault(p.default)}</code>
                  </span>
                ) : null}
              </dd>
            </div>
          ))}
        </dl>
      )}
    </article>
  );
}
