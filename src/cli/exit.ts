import { CommanderError } from "commander";
import { InterInstanceError, UnknownInstanceError, ValidationError } from "../core/errors.js";

/** Exit codes: 0 delivered (or the command succeeded), 1 not delivered, 2 bad input (nothing was sent). */
export const EXIT = { ok: 0, notDelivered: 1, badInput: 2 } as const;

/** How a command that ran to its end came out; the run's exit code is `EXIT[outcome]`. */
export type Outcome = keyof typeof EXIT;

/** Input the CLI refuses itself (exit 2, nothing sent). */
export class BadInput extends Error {}

/** Where the error that ended a run is shown: scrubbed, as JSON on stdout with --json, always on stderr. */
export interface ErrorOutput {
  readonly json: boolean;
  readonly print: (value: unknown, text: string) => void;
  readonly progress: (text: string) => void;
}

/**
 * The one place a run's end becomes its exit code: the outcome its command concluded, or, when it
 * threw, what the error means. Commander has already printed its own errors (a help request is 0,
 * a usage error bad input); any other error is printed here with its hint.
 */
export function exitCode(outcome: Outcome, thrown: { readonly error: unknown } | undefined, output: ErrorOutput): number {
  if (!thrown) return EXIT[outcome];
  const { error } = thrown;
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
  const bad = error instanceof ValidationError || error instanceof UnknownInstanceError || error instanceof BadInput;
  const hint = error instanceof InterInstanceError && error.hint ? `\n${error.hint}` : "";
  const message = error instanceof Error ? error.message : String(error);
  if (output.json) {
    const code = error instanceof InterInstanceError ? error.code : bad ? "INVALID_INPUT" : "ERROR";
    output.print({ ok: false, error: { code, message, hint: hint.trim() || undefined } }, "");
  }
  output.progress(`error: ${message}${hint}`);
  return bad ? EXIT.badInput : EXIT.notDelivered;
}
