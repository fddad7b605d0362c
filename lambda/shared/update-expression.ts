export interface UpdateParts {
  /** `SET name = value` */
  readonly set?: Record<string, unknown>;
  /** `SET name = if_not_exists(name, value)`: written once, never overwritten. */
  readonly setOnce?: Record<string, unknown>;
  /** `ADD name value`: atomic increments. */
  readonly add?: Record<string, number>;
  readonly remove?: readonly string[];
}

export interface BuiltUpdate {
  readonly UpdateExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/**
 * Builds an UpdateExpression with every attribute name aliased (`#u0`) and every value bound
 * (`:u0`), so no attribute can collide with one of DynamoDB's reserved words. Conditions add their
 * own names and values next to these; the `u` prefix keeps them apart.
 */
export function buildUpdate(parts: UpdateParts): BuiltUpdate {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  let counter = 0;
  const bind = (attribute: string, value?: unknown) => {
    const id = counter++;
    names[`#u${id}`] = attribute;
    if (value !== undefined) {
      values[`:u${id}`] = value;
    }
    return { name: `#u${id}`, value: `:u${id}` };
  };
  const set = Object.entries(parts.set ?? {}).map(([attribute, value]) => {
    const bound = bind(attribute, value);
    return `${bound.name} = ${bound.value}`;
  });
  const setOnce = Object.entries(parts.setOnce ?? {}).map(([attribute, value]) => {
    const bound = bind(attribute, value);
    return `${bound.name} = if_not_exists(${bound.name}, ${bound.value})`;
  });
  const add = Object.entries(parts.add ?? {}).map(([attribute, value]) => {
    const bound = bind(attribute, value);
    return `${bound.name} ${bound.value}`;
  });
  const remove = (parts.remove ?? []).map((attribute) => bind(attribute).name);
  const clauses = [
    set.length + setOnce.length > 0 ? `SET ${[...set, ...setOnce].join(', ')}` : '',
    add.length > 0 ? `ADD ${add.join(', ')}` : '',
    remove.length > 0 ? `REMOVE ${remove.join(', ')}` : '',
  ].filter(Boolean);
  if (clauses.length === 0) {
    throw new Error('an update needs at least one SET, ADD or REMOVE');
  }
  return { UpdateExpression: clauses.join(' '), ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}
