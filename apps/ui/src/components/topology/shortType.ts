/** The last segment of a plugin type: `io.kestra.plugin.core.log.Log` → `Log`. Kept apart from the layout so pages can use it without loading dagre. */
export function shortType(type: string | undefined): string {
  if (!type) return '';
  const parts = type.split('.');
  return parts[parts.length - 1] ?? type;
}
