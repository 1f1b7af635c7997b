/**
 * Which held lines a budget covers: oldest first, each line taken when its amount fits what is
 * left of its budget, skipped when it does not — so one big line never holds back small ones.
 * Budgets are per key (an entry's buyable units; one shared balance under the key '').
 */
export function fitOldestFirst<T extends { id: number; receivedAt: number }>(
  lines: readonly T[],
  amount: (l: T) => number,
  budgetKey: (l: T) => string,
  budgets: ReadonlyMap<string, number>,
): T[] {
  const left = new Map(budgets);
  const taken: T[] = [];
  for (const l of [...lines].sort((a, b) => a.receivedAt - b.receivedAt || a.id - b.id)) {
    const k = budgetKey(l);
    const need = amount(l);
    const budget = left.get(k) ?? 0;
    if (need > budget) continue;
    left.set(k, budget - need);
    taken.push(l);
  }
  return taken;
}
