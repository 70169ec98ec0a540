/**
 * Runs `start` with no stack captured for the errors it creates synchronously. For libraries that
 * make an error up front on every call, to have its stack ready should it be thrown (p-timeout's
 * timeout error, the NATS client's request and timeout errors): where the caller never shows that
 * stack, taking it is pure cost, about 40 µs each in a broadcast's deep async call chain.
 */
export function withoutStackTraces<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
