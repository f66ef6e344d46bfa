// Module resolve hook: resolve workspace packages to their TypeScript source (`@sluice/source` export condition).
export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions.includes('@sluice/source') ? context.conditions : ['@sluice/source', ...context.conditions];
  return nextResolve(specifier, { ...context, conditions });
}
