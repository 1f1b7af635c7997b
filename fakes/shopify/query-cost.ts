import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  GraphQLIncludeDirective,
  type GraphQLSchema,
  GraphQLSkipDirective,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  isAbstractType,
  isCompositeType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Shopify's calculated query cost, from the document, as Shopify documents it
 * (shopify.dev "GraphQL Admin API rate limits"): a scalar or enum costs 0, an object 1, an
 * interface or union the most expensive of its possible selections, a connection 2 plus
 * `first`/`last` × the cost of one node, a mutation 10. A plain list field that takes `first`
 * (undocumented by Shopify) is counted like a connection of that size, as the design notes ask;
 * other plain lists of objects like one object. The requested cost is computed from the
 * arguments before running; the actual cost from what was returned (a connection costs what it
 * returned, not what it asked for). Static limits ride along: a connection needs `first` or
 * `last`, at most 250, and no input array may hold more than 250 items.
 *
 * Used by the fake Admin API only; the client paces from the costs the server reports.
 */

export const MAX_QUERY_COST = 1000;
export const MAX_PAGE_SIZE = 250;
export const MAX_INPUT_ARRAY = 250;
export const MUTATION_COST = 10;

export interface LimitProblem {
  code: 'MAX_PAGE_SIZE_EXCEEDED' | 'PAGE_SIZE_REQUIRED' | 'MAX_INPUT_SIZE_EXCEEDED';
  message: string;
  path: string[];
}

interface Walk {
  schema: GraphQLSchema;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  problems: LimitProblem[];
}

type Data = Record<string, unknown> | null | undefined;

function isConnectionField(field: GraphQLField<unknown, unknown>): boolean {
  const named = getNamedType(field.type);
  return (
    isObjectType(named) && named.name.endsWith('Connection') && field.args.some((a) => a.name === 'first')
  );
}

function included(w: Walk, node: FieldNode | { directives?: FieldNode['directives'] }): boolean {
  const n = node as FieldNode;
  if (getDirectiveValues(GraphQLSkipDirective, n, w.variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, n, w.variables)?.if !== false;
}

/** Does a fragment with this type condition apply to values of `parent`? */
function applies(w: Walk, condition: string | undefined, parent: GraphQLCompositeType): boolean {
  if (!condition || condition === parent.name) return true;
  const cond = w.schema.getType(condition);
  if (!cond || !isCompositeType(cond)) return false;
  if (isAbstractType(cond)) {
    if (isObjectType(parent)) return w.schema.isSubType(cond, parent);
    // Both abstract: they overlap when one possible type is shared.
    const mine = new Set(w.schema.getPossibleTypes(parent).map((t) => t.name));
    return w.schema.getPossibleTypes(cond).some((t) => mine.has(t.name));
  }
  return isAbstractType(parent) ? w.schema.isSubType(parent, cond) : false;
}

/**
 * Cost of a selection set on `parent`. Fields always apply; fragments on an object type all
 * add up, fragments on an abstract type are alternatives (a value is one concrete type), so the
 * most expensive one counts. With `data` (actual mode) absent fields cost nothing.
 */
function selectionCost(
  w: Walk,
  parent: GraphQLCompositeType,
  set: SelectionSetNode | undefined,
  data: Data,
  actual: boolean,
  path: string[],
): number {
  if (!set) return 0;
  let direct = 0;
  let alternatives = 0;
  for (const sel of set.selections) {
    if (!included(w, sel)) continue;
    if (sel.kind === Kind.FIELD) {
      direct += fieldCost(w, parent, sel, data, actual, path);
      continue;
    }
    const fragment = sel.kind === Kind.INLINE_FRAGMENT ? sel : w.fragments[sel.name.value];
    if (!fragment) continue;
    const condition = fragment.typeCondition?.name.value;
    if (!applies(w, condition, parent)) continue;
    const target = condition ? w.schema.getType(condition) : parent;
    const type = target && isCompositeType(target) ? target : parent;
    // A fragment on a narrower type is read with that type's fields.
    const cost = selectionCost(
      w,
      isObjectType(parent) ? parent : type,
      fragment.selectionSet,
      data,
      actual,
      path,
    );
    if (isObjectType(parent) || condition === undefined || condition === parent.name) direct += cost;
    else alternatives = Math.max(alternatives, cost);
  }
  return direct + alternatives;
}

function fieldDefinition(
  parent: GraphQLCompositeType,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  // Unions have no fields of their own besides __typename.
  return isUnionType(parent) ? undefined : parent.getFields()[name];
}

function checkArrays(w: Walk, value: unknown, path: string[]): void {
  if (Array.isArray(value)) {
    if (value.length > MAX_INPUT_ARRAY) {
      w.problems.push({
        code: 'MAX_INPUT_SIZE_EXCEEDED',
        message: `The input array size of ${value.length} is greater than the maximum allowed of ${MAX_INPUT_ARRAY}.`,
        path,
      });
    }
    for (const v of value) checkArrays(w, v, path);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) checkArrays(w, v, [...path, k]);
  }
}

function fieldCost(
  w: Walk,
  parent: GraphQLCompositeType,
  node: FieldNode,
  data: Data,
  actual: boolean,
  parentPath: string[],
): number {
  const name = node.name.value;
  if (name.startsWith('__')) return 0;
  const def = fieldDefinition(parent, name);
  if (!def) return 0;
  const key = node.alias?.value ?? name;
  const path = [...parentPath, key];
  const args = getArgumentValues(def, node, w.variables);
  if (!actual) checkArrays(w, args, path);
  const named = getNamedType(def.type);
  if (isLeafType(named) || !isCompositeType(named)) return 0;
  const value = actual ? (data?.[key] as unknown) : undefined;
  if (actual && (value === null || value === undefined)) return 0;

  if (isConnectionField(def)) return connectionCost(w, named, node, args, value, actual, path);

  const list = isListType(isNonNullType(def.type) ? def.type.ofType : def.type);
  const ids = Array.isArray(args.ids) ? args.ids : undefined;
  if (list && ids) {
    // `nodes(ids:)`-style lookups cost one object per id asked for (or returned).
    if (!actual) return ids.length * (1 + selectionCost(w, named, node.selectionSet, undefined, false, path));
    return (value as Data[]).reduce(
      (sum: number, item) =>
        sum + (item ? 1 + selectionCost(w, named, node.selectionSet, item, true, path) : 0),
      0,
    );
  }
  if (list && def.args.some((a) => a.name === 'first')) {
    // Shopify documents no cost for a plain list that takes `first` (`Order.fulfillments`); the
    // design notes count it like a connection of that size, and an omitted `first` as the most it
    // could mean. Actual: what came back.
    const perItem = (item: Data) => 1 + selectionCost(w, named, node.selectionSet, item, actual, path);
    if (actual) return 2 + (value as Data[]).reduce((sum: number, i) => sum + (i ? perItem(i) : 0), 0);
    const first = typeof args.first === 'number' ? args.first : MAX_PAGE_SIZE;
    pageSizeProblem(w, 'first', first, path);
    return 2 + first * perItem(undefined);
  }
  if (list && actual) {
    // Any other plain list of objects costs like one object: its most expensive element.
    const items = value as Data[];
    return 1 + Math.max(0, ...items.map((i) => selectionCost(w, named, node.selectionSet, i, true, path)));
  }
  return 1 + selectionCost(w, named, node.selectionSet, value as Data, actual, path);
}

function pageSizeProblem(w: Walk, arg: string, n: number | null | undefined, path: string[]): void {
  if (n == null || n <= MAX_PAGE_SIZE) return;
  w.problems.push({
    code: 'MAX_PAGE_SIZE_EXCEEDED',
    message: `The page size requested (${arg}: ${n}) exceeds the maximum allowed (${MAX_PAGE_SIZE}).`,
    path,
  });
}

function connectionCost(
  w: Walk,
  connection: GraphQLCompositeType,
  node: FieldNode,
  args: Record<string, unknown>,
  value: unknown,
  actual: boolean,
  path: string[],
): number {
  const first = args.first as number | null | undefined;
  const last = args.last as number | null | undefined;
  if (!actual) {
    if (first == null && last == null) {
      w.problems.push({ code: 'PAGE_SIZE_REQUIRED', message: 'you must provide one of first or last', path });
    }
    pageSizeProblem(w, 'first', first, path);
    pageSizeProblem(w, 'last', last, path);
  }
  // One node's selection, whether read through `nodes` or `edges { node }`.
  const nodeType = getNamedType(
    (connection as { getFields(): Record<string, GraphQLField<unknown, unknown>> }).getFields().nodes?.type,
  );
  if (!nodeType || !isCompositeType(nodeType)) return 2;
  const perNode = (item: Data): number => {
    let cost = 0;
    for (const sel of node.selectionSet?.selections ?? []) {
      if (sel.kind !== Kind.FIELD || !included(w, sel)) continue;
      const key = sel.alias?.value ?? sel.name.value;
      if (sel.name.value === 'nodes') {
        cost = Math.max(cost, 1 + selectionCost(w, nodeType, sel.selectionSet, item, actual, [...path, key]));
      } else if (sel.name.value === 'edges') {
        for (const inner of sel.selectionSet?.selections ?? []) {
          if (inner.kind === Kind.FIELD && inner.name.value === 'node' && included(w, inner)) {
            cost = Math.max(
              cost,
              1 + selectionCost(w, nodeType, inner.selectionSet, item, actual, [...path, key, 'node']),
            );
          }
        }
      }
    }
    return cost;
  };
  if (!actual) return 2 + Math.max(first ?? 0, last ?? 0) * perNode(undefined);
  const conn = value as { nodes?: Data[]; edges?: { node?: Data }[] };
  const items = conn.nodes ?? conn.edges?.map((e) => e.node ?? null) ?? [];
  return 2 + items.reduce((sum: number, item) => sum + (item ? perNode(item) : 0), 0);
}

export interface CostInput {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  fragments: Record<string, FragmentDefinitionNode>;
  /** Coerced variable values (from `getVariableValues`). */
  variables: Record<string, unknown>;
}

/** The requested cost of an operation, and the static-limit problems found on the way. */
export function requestedCost(input: CostInput): { cost: number; problems: LimitProblem[] } {
  const w: Walk = { ...input, problems: [] };
  const root =
    input.operation.operation === 'mutation' ? input.schema.getMutationType() : input.schema.getQueryType();
  if (!root) return { cost: 0, problems: [] };
  if (input.operation.operation === 'mutation') {
    let cost = 0;
    for (const sel of input.operation.selectionSet.selections) {
      if (sel.kind !== Kind.FIELD || !included(w, sel)) continue;
      // Still walked for the input-array limit; the cost is flat.
      fieldCost(w, root, sel, undefined, false, []);
      cost += MUTATION_COST;
    }
    return { cost, problems: w.problems };
  }
  return {
    cost: selectionCost(w, root, input.operation.selectionSet, undefined, false, []),
    problems: w.problems,
  };
}

/** The actual cost, from the data the operation returned. */
export function actualCost(input: CostInput, data: Record<string, unknown> | null): number {
  if (input.operation.operation === 'mutation') return requestedCost(input).cost;
  const w: Walk = { ...input, problems: [] };
  const root = input.schema.getQueryType();
  if (!root || !data) return 0;
  return selectionCost(w, root, input.operation.selectionSet, data, true, []);
}
