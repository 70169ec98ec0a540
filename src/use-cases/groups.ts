import { randomUUID } from "node:crypto";
import pLimit from "p-limit";
import type { InstanceRegistry } from "../config/registry.js";
import type { DeliveryReport, Dispatcher, SendOptions } from "../core/dispatcher.js";
import { UnknownInstanceError } from "../core/errors.js";
import type { DelegateInput, DelegateResult } from "./delegate.js";

/** Members sent to at once; the rest wait for a free place. Members reached by a pipelined transport (a broker) are not counted. */
export const GROUP_CONCURRENCY = 8;

export interface GroupInput {
  /** A group name from `groups` in the config, or `all`. */
  readonly to: string;
  readonly body: string;
  /** The group send's id, shared by its members; each member's envelope id is `<id>.<member>`. */
  readonly id?: string;
}

export interface GroupReport {
  readonly group: string;
  readonly id: string;
  /** True when every member has it (delivered, accepted or written); a queued member makes it false. */
  readonly ok: boolean;
  /** One report per member, in the group's order. */
  readonly members: readonly DeliveryReport[];
}

export interface GroupDelegateResult {
  readonly group: string;
  readonly id: string;
  readonly members: readonly DelegateResult[];
}

/** The envelope id of one member's copy of a group send. */
export const memberId = (groupId: string, member: string) => `${groupId}.${member}`;

function membersOf(registry: InstanceRegistry, name: string): { name: string; members: readonly string[] } {
  const group = registry.group(name);
  if (!group) throw new UnknownInstanceError(name, [...registry.labels(), "all"]);
  return group;
}

/** Whether the member's message would go by a transport whose sends can all be in flight at once. */
function pipelined(dispatcher: Dispatcher, member: string): boolean {
  try {
    const { via } = dispatcher.route(member);
    return via !== undefined && dispatcher.transport(via)?.pipelined === true;
  } catch {
    // An unknown member: its own send reports that.
    return false;
  }
}

/**
 * One envelope per member, sent concurrently (at most `GROUP_CONCURRENCY` at a time, except
 * members a broker reaches: all of their publishes are in flight together), each with its own
 * fallback and report; a member that cannot be reached now gets its copy queued in the outbox
 * while the others are delivered.
 */
export async function sendToGroup(
  dependencies: { registry: InstanceRegistry; dispatcher: Dispatcher },
  input: GroupInput,
  options: SendOptions = {},
): Promise<GroupReport> {
  const group = membersOf(dependencies.registry, input.to);
  const id = input.id ?? randomUUID();
  const limit = pLimit(GROUP_CONCURRENCY);
  const members = await Promise.all(
    group.members.map((member) => {
      const send = () => dependencies.dispatcher.send({ to: member, body: input.body, id: memberId(id, member) }, options);
      return pipelined(dependencies.dispatcher, member) ? send() : limit(send);
    }),
  );
  return { group: group.name, id, ok: members.every((report) => report.ok), members };
}

/** A task to every member of a group, each followed on its own; the results come back one by one. */
export async function delegateToGroup(
  registry: InstanceRegistry,
  delegateOne: (input: DelegateInput) => Promise<DelegateResult>,
  input: GroupInput & Omit<DelegateInput, "to" | "body" | "id" | "group">,
): Promise<GroupDelegateResult> {
  const group = membersOf(registry, input.to);
  const id = input.id ?? randomUUID();
  const limit = pLimit(GROUP_CONCURRENCY);
  const { to: _group, id: _id, ...task } = input;
  const members = await Promise.all(group.members.map((member) => limit(() => delegateOne({ ...task, to: member, id: memberId(id, member), group: id }))));
  return { group: group.name, id, members };
}
