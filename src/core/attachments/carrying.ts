import type { Envelope } from "../envelope.js";
import { type Applicability, notApplicable } from "../transport.js";

/**
 * For transports that cannot carry files: not applicable to a message that has some, so the
 * dispatcher passes over them (saying why) to one that can.
 */
export function cannotCarryFiles(envelope: Envelope, why: string): Applicability | undefined {
  return envelope.files ? notApplicable(`cannot carry files (${why}); this message has ${envelope.files.length}`) : undefined;
}
