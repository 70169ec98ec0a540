/**
 * What the receiving plugin leaves in a session's transcript in place of a chat message its
 * inbound policy kept from the agent (the Gateway stores only this replacement): the sender's
 * follow-up reads it as that message's receipt.
 */
export type PolicyMarkerState = "held" | "refused" | "requeued";

const MARKER = /^\[openclaw-inter-instance (held|refused|requeued) id ([A-Za-z0-9][A-Za-z0-9._:-]{7,127}): ([^\n]*)\]$/gmu;

export function policyMarker(state: PolicyMarkerState, id: string, why: string): string {
  return `[openclaw-inter-instance ${state} id ${id}: ${why.replace(/[\n\]]/gu, " ")}]`;
}

/** The markers in a transcript row's text, by envelope id. */
export function policyMarkersIn(text: string): Map<string, { state: PolicyMarkerState; why: string }> {
  const found = new Map<string, { state: PolicyMarkerState; why: string }>();
  for (const [, state, id, why] of text.matchAll(MARKER)) found.set(id!, { state: state as PolicyMarkerState, why: why! });
  return found;
}
