/**
 * What the receiving plugin leaves in a session's transcript in place of a chat message its
 * inbound policy kept from the agent (the Gateway stores only this replacement): the sender's
 * follow-up reads it as that message's receipt.
 */
export type PolicyMarkerState = "held" | "refused" | "requeued";

// Anywhere in a row: OpenClaw wraps a blocked turn's replacement text in its own words.
const MARKER = /\[openclaw-inter-instance (held|refused|requeued) id ([A-Za-z0-9][A-Za-z0-9._:-]{7,127}): ([^\n\]]*)\]/gu;
const ANY_MARKER = new RegExp(MARKER.source, "u");
// A second copy of a message already shown in the session. Not a receipt for the sender's follow-up
// (the first copy is the one it finds), so `policyMarkersIn` leaves it out.
const REPEAT = /\[openclaw-inter-instance repeat id ([A-Za-z0-9][A-Za-z0-9._:-]{7,127}): ([^\n\]]*)\]/gu;
const ANY_REPEAT = new RegExp(REPEAT.source, "u");
const WHOLE_LINE = new RegExp(`^(?:${MARKER.source}|${REPEAT.source})$`, "u");

export function policyMarker(state: PolicyMarkerState, id: string, why: string): string {
  return `[openclaw-inter-instance ${state} id ${id}: ${why.replace(/[\n\]]/gu, " ")}]`;
}

/** The line that replaces a second copy of a message already shown in this session. */
export function repeatMarker(id: string, why: string): string {
  return `[openclaw-inter-instance repeat id ${id}: ${why.replace(/[\n\]]/gu, " ")}]`;
}

/** True when a text holds nothing but markers (a turn whose every message was held, refused or a repeat). */
export function onlyMarkers(text: string): boolean {
  return text.replace(MARKER, "").replace(REPEAT, "").trim() === "" && (ANY_MARKER.test(text) || ANY_REPEAT.test(text));
}

/** True when a whole line is one of the plugin's markers. */
export function isMarkerLine(line: string): boolean {
  return WHOLE_LINE.test(line);
}

/** The markers in a transcript row's text, by envelope id. */
export function policyMarkersIn(text: string): Map<string, { state: PolicyMarkerState; why: string }> {
  const found = new Map<string, { state: PolicyMarkerState; why: string }>();
  for (const [, state, id, why] of text.matchAll(MARKER)) found.set(id!, { state: state as PolicyMarkerState, why: why! });
  return found;
}
