/**
 * A value a state uses: written in the definition, or read from the state's input (a JSONPath),
 * so one copy of a stage's states can serve many fleets or classes. @internal
 */
export type StateValue<T> = T | { readonly path: string };

/** Whether `value` is read from the input (`{ path }` and nothing else), not written in the definition. @internal */
export function isPath(value: unknown): value is { readonly path: string } {
  return typeof value === 'object' && value !== null && typeof (value as { path?: unknown }).path === 'string' && Object.keys(value).length === 1;
}

/** `{ key: value }` for a literal, `{ 'key.$': path }` for a value read from the input. @internal */
export function field(key: string, value: StateValue<string | number | Record<string, unknown>>): { [key: string]: unknown } {
  return isPath(value) ? { [`${key}.$`]: value.path } : { [key]: value };
}

/** A value as an argument of an intrinsic function: a quoted literal (names hold no quote), or a path. @internal */
export function argument(value: StateValue<string>): string {
  return isPath(value) ? value.path : `'${value}'`;
}
