// `openclaw-inter-instance/core`: the parts `createMessenger` assembles (dispatcher, outbox, circuit
// breaker) and the use cases as functions, for code that wires its own.

export { CircuitBreaker } from "./core/circuit-breaker.js";
export { Dispatcher, MAX_REDELIVERIES, MAX_REDELIVERY_AGE_MS } from "./core/dispatcher.js";
export { Outbox } from "./core/outbox.js";
export { DEFAULT_ASK_TIMEOUT_MS } from "./use-cases/ask.js";
export { DEFAULT_TASK_DEADLINE_MS } from "./use-cases/delegate.js";
export { doctor, MIN_TIMEOUTS_MS } from "./use-cases/doctor/index.js";
export { PROXY_VARIABLES, withoutProxy } from "./use-cases/exec.js";
export { GROUP_CONCURRENCY, memberId } from "./use-cases/groups.js";
export { httpsAlternative, syncFiles, syncRepo } from "./use-cases/sync.js";
