/**
 * The flow YAML editor both the flow's editor tab and the new-flow page use: CodeMirror with live validation
 * (`POST /flows/validate`, debounced, stale answers dropped) shown as lint diagnostics, a status line and a problems
 * list; autocompletion from `GET /plugins`; and the documentation of the task under the cursor beside it.
 */
import { setDiagnostics } from '@codemirror/lint';
import { EditorSelection, EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useImperativeHandle, useMemo, useRef, useState } from 'react';
import type { Ref } from 'react';
import { api } from '../api';
import { ErrorMessage } from '../components/common';
import type { PluginListing, ValidationResult } from '../types';
import { flowCompletion } from './completion';
import { DocsPanel } from './DocsPanel';
import { editorExtensions, problemOffset, toDiagnostics } from './setup';
import type { Problem } from './setup';
import { pluginAt } from './vocabulary';
import './editor.css';

export type { Problem } from './setup';

export interface FlowEditorHandle {
  /** The document now. */
  text(): string;
  /** Replace the whole document (one undoable change). */
  setText(text: string): void;
  /** Set a root key's value (`id`, `namespace`), adding the key at the top when it is missing. */
  setRootKey(key: string, value: string): void;
  /** Show problems the server reported (a refused save) until the next validation. */
  showProblems(problems: readonly Problem[]): void;
  focus(): void;
}

/** `GET /plugins`, fetched once per session. */
export function usePlugins() {
  return useQuery({ queryKey: ['plugins'], queryFn: () => api<PluginListing>('/plugins'), staleTime: Infinity, gcTime: Infinity });
}

/** The value of a root key (`id:`, `namespace:`) of the first document, unquoted; undefined when missing. */
export function rootValue(text: string, key: string): string | undefined {
  const firstDocument = text.split(/^---[ \t]*$/m)[0] ?? '';
  const found = new RegExp(`^${key}:[ \\t]*(.*)$`, 'm').exec(firstDocument);
  if (!found) return undefined;
  let value = (found[1] ?? '').replace(/\s+#.*$/, '').trim();
  if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) value = value.slice(1, -1);
  return value;
}

interface Validation {
  readonly state: 'checking' | 'done' | 'error';
  readonly problems: readonly Problem[];
  readonly warnings: readonly string[];
  readonly error?: unknown;
  /** Problems from a refused save rather than from validation. */
  readonly fromServer?: boolean;
  /** No answer yet. */
  readonly initial?: boolean;
}

export interface YamlEditorProps {
  /** The first document; later changes of this prop are ignored (use the handle). */
  readonly initialText: string;
  readonly label: string;
  readonly onChange?: (text: string) => void;
  readonly editorRef?: Ref<FlowEditorHandle>;
}

export function YamlEditor({ initialText, label, onChange, editorRef }: YamlEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const viewRef = useRef<EditorView | null>(null);
  const textRef = useRef(initialText);
  const onChangeRef = useRef(onChange);
  const plugins = usePlugins();
  const pluginsRef = useRef<PluginListing | undefined>(plugins.data);
  useEffect(() => {
    onChangeRef.current = onChange;
    pluginsRef.current = plugins.data;
  }, [onChange, plugins.data]);
  const [text, setText] = useState(initialText);
  const [cursor, setCursor] = useState(0);
  const [lineCol, setLineCol] = useState({ line: 1, col: 1 });
  const [validation, setValidation] = useState<Validation>({ state: 'checking', problems: [], warnings: [], initial: true });

  useEffect(() => {
    const parent = host.current;
    if (!parent) return;
    const view = new EditorView({
      parent,
      state: EditorState.create({
        doc: textRef.current,
        extensions: editorExtensions({
          label,
          completion: flowCompletion(() => pluginsRef.current),
          onUpdate: ({ docChanged, view: v }) => {
            const head = v.state.selection.main.head;
            const line = v.state.doc.lineAt(head);
            setCursor(head);
            setLineCol({ line: line.number, col: head - line.from + 1 });
            if (docChanged) {
              const next = v.state.doc.toString();
              textRef.current = next;
              setText(next);
              onChangeRef.current?.(next);
            }
          },
        }),
      }),
    });
    viewRef.current = view;
    return () => {
      view.destroy();
      viewRef.current = null;
    };
    // The view lives as long as the component (the label is fixed).
  }, []);

  // Live validation: 400 ms after the last change; an answer for an older text is dropped.
  const sequence = useRef(0);
  useEffect(() => {
    const mine = ++sequence.current;
    const controller = new AbortController();
    setValidation((v) => (v.state === 'checking' ? v : { ...v, state: 'checking' }));
    const timer = setTimeout(() => {
      api<ValidationResult[]>('/flows/validate', { method: 'POST', body: text, headers: { 'content-type': 'application/x-yaml' }, signal: controller.signal })
        .then((results) => {
          const view = viewRef.current;
          if (mine !== sequence.current || !view || view.state.doc.toString() !== text) return;
          const problems = results.flatMap((r) => r.problems);
          const warnings = results.flatMap((r) => r.warnings ?? []);
          view.dispatch(setDiagnostics(view.state, toDiagnostics(view.state.doc, problems)));
          setValidation({ state: 'done', problems, warnings });
        })
        .catch((error: unknown) => {
          if (controller.signal.aborted || mine !== sequence.current) return;
          setValidation({ state: 'error', problems: [], warnings: [], error });
        });
    }, 400);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [text]);

  const goTo = (problem: Problem): void => {
    const view = viewRef.current;
    if (!view) return;
    const at = problemOffset(view.state.doc, problem);
    view.dispatch({ selection: EditorSelection.cursor(at), effects: EditorView.scrollIntoView(at, { y: 'center' }) });
    view.focus();
  };

  useImperativeHandle(
    editorRef,
    (): FlowEditorHandle => ({
      text: () => viewRef.current?.state.doc.toString() ?? textRef.current,
      setText: (next) => {
        const view = viewRef.current;
        if (!view) {
          textRef.current = next;
          return;
        }
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: next }, userEvent: 'input.replace' });
      },
      setRootKey: (key, value) => {
        const view = viewRef.current;
        if (!view) return;
        const doc = view.state.doc;
        for (let n = 1; n <= doc.lines; n++) {
          const line = doc.line(n);
          if (/^---\s*$/.test(line.text) && n > 1) break;
          const found = new RegExp(`^${key}:([ \\t]*)(.*)$`).exec(line.text);
          if (found) {
            const from = line.from + key.length + 1;
            view.dispatch({ changes: { from, to: line.to, insert: ` ${value}` }, userEvent: 'input' });
            return;
          }
        }
        // Missing: namespace goes after id, anything else first.
        let at = 0;
        if (key === 'namespace') {
          for (let n = 1; n <= doc.lines; n++) {
            if (/^id:/.test(doc.line(n).text)) {
              at = doc.line(n).to + 1;
              break;
            }
          }
        }
        at = Math.min(at, doc.length);
        const insert = `${key}: ${value}\n`;
        view.dispatch({ changes: { from: at, insert: at === doc.length && at > 0 && !doc.toString().endsWith('\n') ? `\n${insert}` : insert }, userEvent: 'input' });
      },
      showProblems: (problems) => {
        const view = viewRef.current;
        if (!view) return;
        view.dispatch(setDiagnostics(view.state, toDiagnostics(view.state.doc, problems)));
        setValidation({ state: 'done', problems, warnings: [], fromServer: true });
      },
      focus: () => viewRef.current?.focus(),
    }),
    [],
  );

  const docs = useMemo(() => pluginAt(text, Math.min(cursor, text.length), plugins.data), [text, cursor, plugins.data]);
  const count = validation.problems.length;
  const status = validation.state === 'error' ? 'Not checked' : count === 0 ? (validation.fromServer ? 'Refused by the server' : validation.initial ? 'Checking…' : 'Valid') : `${count} problem${count === 1 ? '' : 's'}`;

  return (
    <div className="yaml-editor">
      <div className="yaml-editor-main">
        <div className="yaml-editor-host" ref={host} data-testid="editor" />
        <div className="yaml-editor-statusbar">
          <span
            data-testid="editor-status"
            className={`editor-status ${count > 0 ? 'has-problems' : validation.state === 'error' ? 'has-error' : 'valid'}`}
            role="status"
            aria-live="polite"
            aria-busy={validation.state === 'checking'}
            data-state={validation.state}
          >
            {status}
          </span>
          {validation.state === 'checking' && !validation.initial ? <span className="muted small">checking…</span> : null}
          <span className="muted small yaml-editor-position">
            Ln {lineCol.line}, Col {lineCol.col}
          </span>
          <span className="muted small yaml-editor-hint">Ctrl+Space completes · Ctrl+F searches · Esc then Tab leaves the editor</span>
        </div>
        {validation.state === 'error' ? <ErrorMessage error={validation.error} title="The flow could not be checked" /> : null}
        {count > 0 || validation.warnings.length > 0 ? (
          <ul className="editor-problems" data-testid="editor-problems" aria-label="Problems">
            {validation.problems.map((problem, index) => (
              <li key={`${index}:${problem.line ?? 0}:${problem.message}`} className="editor-problem" data-line={problem.line && problem.line > 0 ? problem.line : 1}>
                <button type="button" className="ghost editor-problem-position" onClick={() => goTo(problem)} title="Go to this problem">
                  line {problem.line && problem.line > 0 ? problem.line : 1}
                  {problem.column && problem.column > 0 ? `, col ${problem.column}` : ''}
                </button>
                <span className="editor-problem-message">{problem.message}</span>
                {problem.path ? <code className="editor-problem-path">{problem.path}</code> : null}
              </li>
            ))}
            {validation.warnings.map((warning) => (
              <li key={`w:${warning}`} className="editor-warning">
                <span className="editor-warning-label">warning</span>
                <span className="editor-problem-message">{warning}</span>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      <aside className="yaml-editor-docs" aria-label="Documentation of the task under the cursor" data-testid="editor-docs">
        <DocsPanel plugin={docs.plugin} type={docs.type} kind={docs.kind} loading={plugins.isPending} error={plugins.error} />
      </aside>
    </div>
  );
}
