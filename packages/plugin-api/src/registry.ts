import { closestNames, SluiceError } from '@sluice/core';

/** Anything registrable: a canonical type and its aliases. */
export interface Registrable {
  readonly type: string;
  readonly aliases?: readonly string[];
}

/**
 * One registry for every kind of plugin (tasks, runners, triggers), as Kestra's DefaultPluginRegistry: each entry
 * is found by its canonical type or any alias, case-insensitively. Registering a name twice (canonical or alias,
 * in any case) is an error, so two plugins can never silently shadow each other.
 */
export class Registry<T extends Registrable> {
  readonly #byName = new Map<string, T>();
  readonly #entries: T[] = [];
  readonly #names: string[] = [];

  /** @param kind what the registry holds, for messages: `task`, `runner`, `trigger`. */
  constructor(readonly kind: string) {}

  /** Add a plugin. Throws `SLU_PLUGIN_DUPLICATE_TYPE` when any of its names is taken, `SLU_PLUGIN_INVALID_DEFINITION` for an empty name. */
  register(entry: T): this {
    const names = [entry.type, ...(entry.aliases ?? [])];
    const lowered = new Set<string>();
    for (const name of names) {
      if (typeof name !== 'string' || name.trim() === '' || name !== name.trim()) {
        throw new SluiceError('SLU_PLUGIN_INVALID_DEFINITION', { kind: this.kind, type: String(entry.type), reason: `invalid name ${JSON.stringify(name)}` });
      }
      const key = name.toLowerCase();
      const existing = this.#byName.get(key);
      if (existing || lowered.has(key)) {
        throw new SluiceError('SLU_PLUGIN_DUPLICATE_TYPE', { kind: this.kind, type: name, existing: existing?.type ?? entry.type });
      }
      lowered.add(key);
    }
    for (const key of lowered) this.#byName.set(key, entry);
    this.#entries.push(entry);
    this.#names.push(...names);
    return this;
  }

  /** Register several plugins; stops at the first duplicate. */
  registerAll(entries: Iterable<T>): this {
    for (const entry of entries) this.register(entry);
    return this;
  }

  /** The plugin for a type or alias (case-insensitive), or undefined. */
  find(type: string): T | undefined {
    return this.#byName.get(type.toLowerCase());
  }

  /** The plugin for a type or alias; throws `SLU_PLUGIN_UNKNOWN_TYPE` with the closest names. */
  get(type: string): T {
    const found = this.find(type);
    if (found) return found;
    const names = this.suggest(type);
    const suggestion = names.length === 0 ? '' : `; did you mean ${names.map((n) => `"${n}"`).join(', ')}?`;
    throw new SluiceError('SLU_PLUGIN_UNKNOWN_TYPE', { kind: this.kind, type, suggestion }, { suggestions: names });
  }

  has(type: string): boolean {
    return this.find(type) !== undefined;
  }

  /** Every registered plugin, once, in registration order. */
  list(): readonly T[] {
    return this.#entries;
  }

  /** Every name a flow may use (canonical types and aliases). */
  names(): readonly string[] {
    return this.#names;
  }

  /** Closest known canonical types to an unknown name (aliases count, but the canonical name is suggested). */
  suggest(type: string, limit = 3): string[] {
    const canonical = closestNames(type, this.#names, limit * 3).map((name) => this.find(name)?.type ?? name);
    return [...new Set(canonical)].slice(0, limit);
  }
}
