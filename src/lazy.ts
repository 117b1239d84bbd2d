/**
 * Builds a value on first call and returns the same one after: for zod schemas and shapes that
 * only some commands need (building a schema costs CPU and heap at start-up, bench/findings.md).
 */
export function lazy<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}
