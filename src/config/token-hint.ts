/**
 * Where a person finds a Gateway's shared token on its machine. `openclaw config get
 * gateway.auth.token` prints `__OPENCLAW_REDACTED__`; these print the value itself.
 */
export const TARGET_TOKEN_SOURCE =
  'on the target, `openclaw dashboard --json` prints it in "url" after #token=, or read gateway.auth.token in the file `openclaw config file` names ' +
  "(a token OpenClaw keeps in its secret store is never shown: set your own with `openclaw config set gateway.auth.token <new>` and restart it there)";

/** The way around a shared token altogether. */
export const PAIR_WITHOUT_TOKEN =
  "or pair without any token: `openclaw-inter-instance invite` on the target, then `openclaw-inter-instance pair <invite>` here";
