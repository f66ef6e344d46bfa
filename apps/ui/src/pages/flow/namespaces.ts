/** The namespace tree of the flows page: `company.team` nests under `company`. Pure. */

export interface NamespaceNode {
  /** The last segment (`team`). */
  readonly name: string;
  /** The whole namespace (`company.team`). */
  readonly path: string;
  /** Flows in exactly this namespace. */
  count: number;
  /** Flows in this namespace and every namespace under it. */
  total: number;
  readonly children: NamespaceNode[];
}

/**
 * The tree of the namespaces `counts` names (namespace → number of flows in it), sorted by name. A namespace with no
 * flow of its own but children (`company` for `company.team`) is a node too, with a count of 0.
 */
export function namespaceTree(counts: ReadonlyMap<string, number>): NamespaceNode[] {
  const roots: NamespaceNode[] = [];
  const byPath = new Map<string, NamespaceNode>();
  const ensure = (path: string): NamespaceNode => {
    const found = byPath.get(path);
    if (found) return found;
    const dot = path.lastIndexOf('.');
    const node: NamespaceNode = { name: dot < 0 ? path : path.slice(dot + 1), path, count: 0, total: 0, children: [] };
    byPath.set(path, node);
    if (dot < 0) roots.push(node);
    else ensure(path.slice(0, dot)).children.push(node);
    return node;
  };
  for (const [namespace, count] of counts) {
    if (!namespace) continue;
    const node = ensure(namespace);
    node.count += count;
    for (let at: string | undefined = namespace; at !== undefined; ) {
      ensure(at).total += count;
      const dot = at.lastIndexOf('.');
      at = dot < 0 ? undefined : at.slice(0, dot);
    }
  }
  const sort = (nodes: NamespaceNode[]): void => {
    nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const node of nodes) sort(node.children);
  };
  sort(roots);
  return roots;
}

/** `company.team.data` → [`company`, `company.team`, `company.team.data`]. */
export function ancestors(namespace: string): string[] {
  const parts = namespace.split('.');
  return parts.map((_, i) => parts.slice(0, i + 1).join('.'));
}
