import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type FragmentDefinitionNode,
  type GraphQLSchema,
  getOperationAST,
  getVariableValues,
  Kind,
  parse,
  validate,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { STOCK_DOCUMENTS } from '../../../adapters/shopify/shopify-adapter.js';
import type { ShopifyDocument } from '../../../adapters/shopify/shopify-client.js';
import { ORDER_DOCUMENTS } from '../../../adapters/shopify/shopify-orders.js';
import { loadAdminSchema } from '../../../fakes/shopify/fake-shopify.js';
import { MAX_QUERY_COST, requestedCost } from '../../../fakes/shopify/query-cost.js';

/**
 * Every GraphQL document the Shopify adapter can send, at the largest variables it sends it with,
 * is valid against the real 2026-10 schema and costs at most 1,000 points under the fake's cost
 * rules (design-notes "Shopify query cost"). A new document, or a bigger page size, that breaks the
 * cap fails here instead of in a merchant's delivery.
 */

const ADAPTER_DIR = fileURLToPath(new URL('../../../adapters/shopify/', import.meta.url));
const DOCUMENTS: readonly ShopifyDocument[] = [...ORDER_DOCUMENTS, ...STOCK_DOCUMENTS];

function operationName(doc: ShopifyDocument): string {
  return getOperationAST(parse(doc.query))?.name?.value ?? '(anonymous)';
}

function costOf(schema: GraphQLSchema, doc: ShopifyDocument): { cost: number; problems: string[] } {
  const ast = parse(doc.query);
  const invalid = validate(schema, ast).map((e) => e.message);
  const operation = getOperationAST(ast);
  if (!operation || invalid.length > 0) return { cost: Number.NaN, problems: invalid };
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], doc.maxVariables);
  if (coerced.errors) return { cost: Number.NaN, problems: coerced.errors.map((e) => e.message) };
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of ast.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const { cost, problems } = requestedCost({ schema, operation, fragments, variables: coerced.coerced });
  return { cost, problems: problems.map((p) => `${p.code} at ${p.path.join('.')}`) };
}

describe('Shopify query budget', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = (await loadAdminSchema()).schema;
  });

  it('lists every document the adapter defines (each named once)', () => {
    const defined = new Set<string>();
    const sources = readdirSync(ADAPTER_DIR).filter((f) => f.endsWith('.ts'));
    for (const f of sources) {
      const text = readFileSync(path.join(ADAPTER_DIR, f), 'utf8');
      for (const m of text.matchAll(/\b(?:query|mutation)\s+([A-Z]\w*)\s*[({]/g)) defined.add(m[1] as string);
    }
    const listed = DOCUMENTS.map(operationName);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...defined].sort()).toEqual([...listed].sort());
  });

  it('every document is valid and costs ≤ 1,000 at its largest variables', () => {
    const costs = Object.fromEntries(DOCUMENTS.map((d) => [operationName(d), costOf(schema, d)]));
    const over = Object.entries(costs).filter(
      ([, c]) => !(c.cost <= MAX_QUERY_COST) || c.problems.length > 0,
    );
    expect(over).toEqual([]);
  });

  it('a document sent at its largest variables is paced by the cost the store will ask', () => {
    const paced = DOCUMENTS.filter((d) => d.cost !== undefined);
    expect(paced.map(operationName)).toContain('OrderRead');
    const costs = paced.map((d) => [operationName(d), costOf(schema, d).cost]);
    expect(costs).toEqual(paced.map((d) => [operationName(d), d.cost]));
  });
});
