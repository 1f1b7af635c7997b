/**
 * The sandbox shop's name and type, apart from `sandbox-mode.ts`: commands that only describe a
 * sandbox config (`status`, `config check`) need them without loading the fake servers.
 */
export const SANDBOX_STORE = { name: 'sandbox-shop', type: 'woocommerce' } as const;

export function sandboxStoreSummaries(): { name: string; type: string }[] {
  return [{ ...SANDBOX_STORE }];
}
