/** React Query keys the flow page's tabs share (so one tab's change refreshes the others). */
export const flowKey = (namespace: string, id: string): readonly unknown[] => ['flow', namespace, id];
export const triggersKey = (namespace: string, id: string): readonly unknown[] => ['triggers', namespace, id];
export const revisionsKey = (namespace: string, id: string): readonly unknown[] => ['flow', namespace, id, 'revisions'];
