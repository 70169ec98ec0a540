import type { SecretSet } from "../../util/redact.js";
import { failureClassOf, InterInstanceError, TransportError } from "../errors.js";
import type { AttemptError } from "./report.js";

/** An error as a report shows it: its failure class, name, code, message and hint, secrets scrubbed. */
export function describeError(error: unknown, secrets: SecretSet | undefined): AttemptError {
  const scrub = (text: string) => secrets?.scrub(text) ?? text;
  const failureClass = failureClassOf(error);
  if (error instanceof InterInstanceError) {
    return {
      class: failureClass,
      name: error.name,
      code: error.code,
      message: scrub(error.message),
      ...(error.hint ? { hint: scrub(error.hint) } : {}),
    };
  }
  const plain = error instanceof Error ? error : new Error(String(error));
  return { class: failureClass, name: plain.name, code: error instanceof TransportError ? error.code : "UNCLASSIFIED", message: scrub(plain.message) };
}
