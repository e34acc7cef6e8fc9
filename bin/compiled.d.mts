/** True when `compiled` (a file URL in dist/) exists and is at least as new as every source file. */
export function compiledIsCurrent(compiled: URL): boolean;
