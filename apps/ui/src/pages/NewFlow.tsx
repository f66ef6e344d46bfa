/**
 * `/flows/new`: pick a template (`?template=` keeps the choice in the URL), set the namespace and id (written into
 * the YAML, and read back from it), edit in the flow editor, and Create (`POST /flows`), which opens the new flow's
 * editor tab. A 409 (the flow exists) or a 400 (invalid) is shown readably, the problems in place in the editor.
 */
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useCallback, useRef, useState } from 'react';
import { ApiError, yaml } from '../api';
import { ErrorMessage, PageHeader } from '../components/common';
import { problemsOf, useSaveShortcut, useUnsavedGuard } from '../editor/guard';
import { DEFAULT_NAMESPACE, fillTemplate, TEMPLATES } from '../editor/templates';
import type { FlowTemplate } from '../editor/templates';
import { rootValue, YamlEditor } from '../editor/YamlEditor';
import type { FlowEditorHandle } from '../editor/YamlEditor';
import { Link, navigate, seg, useSearchParams } from '../router';
import type { Flow } from '../types';

export default function NewFlow() {
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const editor = useRef<FlowEditorHandle>(null);
  const [initial] = useState(() => {
    const template = TEMPLATES.find((t) => t.id === params.get('template')) ?? TEMPLATES[0]!;
    return { template, text: fillTemplate(template, params.get('namespace') || DEFAULT_NAMESPACE, template.flowId) };
  });
  const [template, setTemplate] = useState<FlowTemplate>(initial.template);
  const [text, setText] = useState(initial.text);
  const [pristine, setPristine] = useState(initial.text);
  const [created, setCreated] = useState(false);
  const namespace = rootValue(text, 'namespace') ?? '';
  const id = rootValue(text, 'id') ?? '';

  const create = useMutation({
    mutationFn: (source: string) => yaml<Flow>('/flows', 'POST', source),
    onSuccess: (flow) => {
      setCreated(true);
      void queryClient.invalidateQueries({ queryKey: ['flows'] });
      void queryClient.invalidateQueries({ queryKey: ['flow', flow.namespace, flow.id] });
      navigate(`/flows/${seg(flow.namespace)}/${seg(flow.id)}/editor`);
    },
    onError: (error) => {
      const problems = problemsOf(error);
      if (problems.length > 0) editor.current?.showProblems(problems);
    },
  });

  const doCreate = useCallback(() => {
    if (create.isPending) return;
    create.mutate(editor.current?.text() ?? text);
  }, [create, text]);

  useSaveShortcut(doCreate);
  useUnsavedGuard(text !== pristine && !created);

  const pick = (next: FlowTemplate): void => {
    if (next.id === template.id) return;
    // Keep the namespace typed, and the id unless it is still the previous template's suggestion.
    const keepId = id !== '' && id !== template.flowId ? id : next.flowId;
    const filled = fillTemplate(next, namespace || DEFAULT_NAMESPACE, keepId);
    setTemplate(next);
    setPristine(filled);
    setParams({ template: next.id === TEMPLATES[0]!.id ? undefined : next.id });
    editor.current?.setText(filled);
  };

  const createError = create.error;
  return (
    <div className="new-flow">
      <PageHeader
        title="New flow"
        subtitle="Start from a template, set the namespace and id, edit the YAML, and create it."
        actions={
          <>
            <Link to="/flows" className="button">
              Cancel
            </Link>
            <button type="button" className="primary" onClick={doCreate} disabled={create.isPending} data-testid="create-flow" title="Create the flow (Ctrl+S)">
              {create.isPending ? 'Creating…' : 'Create'}
            </button>
          </>
        }
      />
      <fieldset className="templates" data-testid="templates">
        <legend>Template</legend>
        {TEMPLATES.map((t) => (
          <label key={t.id} className="template-card" data-template={t.id}>
            <input type="radio" name="template" value={t.id} checked={template.id === t.id} onChange={() => pick(t)} />
            <div>
              <strong>{t.title}</strong>
              <span>{t.description}</span>
            </div>
          </label>
        ))}
      </fieldset>
      <div className="new-flow-form">
        <label className="field">
          <span>Namespace</span>
          <input
            name="namespace"
            value={namespace}
            placeholder="company.team"
            spellCheck={false}
            autoComplete="off"
            onChange={(event) => editor.current?.setRootKey('namespace', event.target.value.trim())}
          />
        </label>
        <label className="field">
          <span>Flow id</span>
          <input name="id" value={id} placeholder="my-flow" spellCheck={false} autoComplete="off" onChange={(event) => editor.current?.setRootKey('id', event.target.value.trim())} />
        </label>
      </div>
      {createError ? (
        <ErrorMessage
          error={createError}
          title={
            createError instanceof ApiError && createError.status === 409
              ? `A flow ${namespace}.${id} already exists: change the id or the namespace, or edit that flow`
              : createError instanceof ApiError && createError.status === 400
                ? 'The flow is not valid: nothing was created'
                : 'The flow could not be created'
          }
        />
      ) : null}
      {createError instanceof ApiError && createError.status === 409 ? (
        <p className="small">
          <Link to={`/flows/${seg(namespace)}/${seg(id)}/editor`}>Open the existing flow {namespace}.{id}</Link>
        </p>
      ) : null}
      <YamlEditor editorRef={editor} initialText={initial.text} label="YAML source of the new flow" onChange={setText} />
    </div>
  );
}
