/**
 * The flow's editor tab (`/flows/:namespace/:id/editor`): the flow's YAML source in the flow editor, saved with
 * `PUT /flows/{ns}/{id}` (Save or Ctrl/Cmd+S) as a new revision. A refused save keeps the text and shows the
 * server's problems in place; leaving with unsaved changes asks first.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useRef, useState } from 'react';
import { api, ApiError, yaml } from '../api';
import { EmptyState, ErrorMessage, Spinner } from '../components/common';
import { problemsOf, useSaveShortcut, useUnsavedGuard } from '../editor/guard';
import { YamlEditor } from '../editor/YamlEditor';
import type { FlowEditorHandle } from '../editor/YamlEditor';
import { Link, seg } from '../router';
import type { Flow } from '../types';

export default function FlowEditor({ namespace, id, initialSource }: { namespace?: string; id?: string; initialSource?: string }) {
  if (!namespace || !id) {
    return (
      <EmptyState title="No flow to edit" action={<Link to="/flows/new" className="button primary">Create a flow</Link>}>
        Open a flow from the <Link to="/flows">flows list</Link> to edit its YAML, or start a new one from a template.
      </EmptyState>
    );
  }
  return <LoadedFlowEditor key={`${namespace}/${id}`} namespace={namespace} id={id} initialSource={initialSource} />;
}

function LoadedFlowEditor({ namespace, id, initialSource }: { namespace: string; id: string; initialSource: string | undefined }) {
  const flow = useQuery({
    queryKey: ['flow', namespace, id, 'source'],
    queryFn: () => api<Flow>(`/flows/${seg(namespace)}/${seg(id)}?source=true`),
  });
  if (flow.isPending) return <Spinner label="Loading the flow's source…" />;
  if (flow.error) {
    if (flow.error instanceof ApiError && flow.error.status === 404) {
      return (
        <EmptyState title="Flow not found" action={<Link to="/flows/new">Create a flow</Link>}>
          There is no flow <code>{namespace}.{id}</code> (it may have been deleted). Go back to the <Link to="/flows">flows list</Link>.
        </EmptyState>
      );
    }
    return <ErrorMessage error={flow.error} title="The flow's source could not be loaded" />;
  }
  return <EditorBody namespace={namespace} id={id} initial={initialSource ?? flow.data.source ?? ''} revision={flow.data.revision} />;
}

function EditorBody({ namespace, id, initial, revision }: { namespace: string; id: string; initial: string; revision: number }) {
  const queryClient = useQueryClient();
  const editor = useRef<FlowEditorHandle>(null);
  const [baseline, setBaseline] = useState(initial);
  const [text, setText] = useState(initial);
  const [current, setCurrent] = useState(revision);
  const [saved, setSaved] = useState<number | undefined>(undefined);
  const dirty = text !== baseline;

  const save = useMutation({
    mutationFn: (source: string) => yaml<Flow>(`/flows/${seg(namespace)}/${seg(id)}`, 'PUT', source),
    onSuccess: (flow, source) => {
      setBaseline(source);
      setCurrent(flow.revision);
      setSaved(flow.revision);
      void queryClient.invalidateQueries({ queryKey: ['flow', namespace, id] });
      void queryClient.invalidateQueries({ queryKey: ['flows'] });
    },
    onError: (error) => {
      const problems = problemsOf(error);
      if (problems.length > 0) editor.current?.showProblems(problems);
    },
  });

  const doSave = useCallback(() => {
    if (save.isPending) return;
    setSaved(undefined);
    save.mutate(editor.current?.text() ?? text);
  }, [save, text]);

  useSaveShortcut(doSave);
  useUnsavedGuard(dirty);

  return (
    <section className="flow-editor" aria-label={`Editor of ${namespace}.${id}`}>
      <div className="flow-editor-toolbar">
        <button type="button" className="primary" onClick={doSave} disabled={save.isPending} data-testid="editor-save" title="Save a new revision (Ctrl+S)">
          {save.isPending ? 'Saving…' : 'Save'}
        </button>
        {dirty ? (
          <button type="button" onClick={() => editor.current?.setText(baseline)} title="Go back to the last saved text (Ctrl+Z undoes this)">
            Discard changes
          </button>
        ) : null}
        <span className="muted small" data-testid="editor-revision">
          Revision {current}
        </span>
        {dirty ? (
          <span className="dirty-flag" data-testid="editor-dirty">
            unsaved changes
          </span>
        ) : saved !== undefined ? (
          <span className="saved-flag" data-testid="editor-saved" role="status">
            Saved as revision {saved}
          </span>
        ) : null}
        <span className="spacer" />
        <span className="muted small">Ctrl+S saves</span>
      </div>
      {save.error ? (
        <ErrorMessage
          error={save.error}
          title={save.error instanceof ApiError && save.error.status === 400 ? 'The server refused the flow: nothing was saved, your text is kept' : 'The flow could not be saved'}
        />
      ) : null}
      <YamlEditor
        editorRef={editor}
        initialText={initial}
        label={`YAML source of flow ${namespace}.${id}`}
        onChange={setText}
      />
    </section>
  );
}
