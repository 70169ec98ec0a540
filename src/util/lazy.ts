import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** Builds a value on first call and returns the same one after. */
export function once<T>(build: () => T): () => T {
  let value: { readonly built: T } | undefined;
  return () => (value ??= { built: build() }).built;
}

/**
 * A dependency loaded on first use instead of at import, for code that needs it synchronously
 * (CommonJS packages, or zod through its CommonJS build). Importing the library, or running a CLI
 * command that never needs the dependency, then costs nothing for it.
 */
export function lazyRequire<T>(name: string): () => T {
  return once(() => require(name) as T);
}
