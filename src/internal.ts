// `openclaw-inter-instance/internal`: what this package's own plugin and CLI need of a messenger and
// a library user should not call. No compatibility promise: it may change in any release.
export { type TaskPlumbing, taskPlumbing } from "./messenger/internals.js";
