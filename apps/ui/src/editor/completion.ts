/**
 * Autocompletion for flow YAML: task, trigger and runner types after `type:`, a plugin's property names inside its
 * mapping (required first, with their descriptions), the flow's top-level keys at the root, input and output keys,
 * and enum values (log levels, input types, a property's `enum`).
 */
import type { Completion, CompletionContext, CompletionResult, CompletionSource } from '@codemirror/autocomplete';
import type { PluginDescription, PluginListing } from '../types';
import { cursorContext } from './yaml-context';
import { FLOW_KEYS, INPUT_KEYS, INPUT_TYPES, LOG_LEVELS, OUTPUT_KEYS, PLUGIN_DEFAULT_KEYS, propertiesOf, scopeInfo } from './vocabulary';
import type { KeyDoc, PluginCategory } from './vocabulary';

const KEY_VALID = /^[\w$@./-]*$/;

function keyOptions(keys: readonly KeyDoc[], present: ReadonlySet<string>, apply: (name: string) => string): Completion[] {
  return keys
    .filter((key) => !present.has(key.name))
    .map((key, index) => ({
      label: key.name,
      type: 'property',
      detail: key.required ? `${key.type} · required` : key.type,
      info: key.description,
      apply: apply(key.name),
      boost: key.required ? 50 - index : -index,
    }));
}

function typeOptions(plugins: PluginListing, categories: readonly PluginCategory[]): Completion[] {
  const options: Completion[] = [];
  for (const category of categories) {
    for (const plugin of plugins[category]) {
      options.push({ label: plugin.type, type: 'class', detail: plugin.title, info: plugin.description ?? plugin.title, boost: 1 });
      for (const alias of plugin.aliases) options.push({ label: alias, type: 'class', detail: `alias of ${plugin.type}`, boost: -10 });
    }
  }
  return options;
}

function valueOptions(values: readonly unknown[], detail?: string): Completion[] {
  return values.map((value) => ({ label: String(value), type: 'enum', ...(detail ? { detail } : {}) }));
}

/** The completion source; `plugins()` gives the listing of `GET /plugins` once it has loaded. */
export function flowCompletion(plugins: () => PluginListing | undefined): CompletionSource {
  return (context: CompletionContext): CompletionResult | null => {
    const text = context.state.doc.toString();
    const cursor = cursorContext(text, context.pos);
    const { position } = cursor;
    if (position.kind === 'none') return null;
    if (!context.explicit && position.prefix === '') return null;
    const listing = plugins();
    const info = scopeInfo(cursor, 0, listing);
    const present = new Set(info.scope.keys.keys());

    if (position.kind === 'key') {
      const apply = (name: string): string => (position.lineEnd ? `${name}: ` : name);
      let options: Completion[];
      switch (info.kind) {
        case 'flow':
          options = keyOptions(FLOW_KEYS, present, apply);
          break;
        case 'input':
          options = keyOptions(INPUT_KEYS, present, apply);
          break;
        case 'output':
          options = keyOptions(OUTPUT_KEYS, present, apply);
          break;
        case 'plugin-default':
          options = keyOptions(PLUGIN_DEFAULT_KEYS, present, apply);
          break;
        case 'task':
        case 'trigger':
        case 'runner': {
          if (info.plugin) {
            options = propertyOptions(info.plugin, present, apply);
          } else {
            const base: KeyDoc[] =
              info.kind === 'runner'
                ? [{ name: 'type', type: 'string', required: true, description: 'The task runner type.' }]
                : [
                    { name: 'id', type: 'string', required: true, description: `The ${info.kind} id, unique in the flow.` },
                    { name: 'type', type: 'string', required: true, description: `The ${info.kind} type; its other properties depend on it.` },
                  ];
            options = keyOptions(base, present, apply);
          }
          break;
        }
        default:
          return null;
      }
      if (options.length === 0) return null;
      return { from: position.from, options, validFor: KEY_VALID };
    }

    // A value after `key: `.
    let options: Completion[] = [];
    if (position.key === 'type') {
      if (!listing) return null;
      switch (info.kind) {
        case 'trigger':
          options = typeOptions(listing, ['triggers']);
          break;
        case 'runner':
          options = typeOptions(listing, ['runners']);
          break;
        case 'plugin-default':
          options = typeOptions(listing, ['tasks', 'triggers']);
          break;
        case 'input':
        case 'output':
          options = valueOptions(INPUT_TYPES.filter((t) => t !== 'BOOL'), 'input type');
          break;
        case 'task':
          options = typeOptions(listing, ['tasks']);
          break;
        default:
          if (info.path[info.path.length - 1] !== '-') return null;
          options = typeOptions(listing, ['tasks']);
      }
    } else if (position.key === 'itemType' && info.kind === 'input') {
      options = valueOptions(INPUT_TYPES.filter((t) => t !== 'BOOL'), 'input type');
    } else if (info.plugin) {
      const property = propertiesOf(info.plugin).find((p) => p.name === position.key);
      if (!property) return null;
      if (property.enum) options = valueOptions(property.enum);
      else if (property.type === 'boolean') options = valueOptions([true, false]);
      else if (position.key === 'logLevel' || position.key === 'level') options = valueOptions(LOG_LEVELS);
    } else if (info.kind === 'flow' && position.key === 'disabled') {
      options = valueOptions([true, false]);
    }
    if (options.length === 0) return null;
    return { from: position.from, options, validFor: KEY_VALID };
  };
}

function propertyOptions(plugin: PluginDescription, present: ReadonlySet<string>, apply: (name: string) => string): Completion[] {
  const properties = propertiesOf(plugin);
  return properties
    .filter((p) => !present.has(p.name))
    .map((p, index) => ({
      label: p.name,
      type: 'property',
      detail: p.required ? `${p.type} · required` : p.type,
      ...(p.description ? { info: p.description } : {}),
      apply: apply(p.name),
      // keep the docs order: required first
      boost: Math.max(-99, (p.required ? 60 : 20) - index),
    }));
}
