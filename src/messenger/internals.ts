import type { Task } from "../core/task-book.js";
import type { Messenger } from "./api.js";

/** What the plugin needs of a messenger and a library user should not: bringing delegated results into a session. */
export interface TaskPlumbing {
  /** Answered tasks whose result has not been brought to the session that delegated them. */
  toBring(): Promise<Task[]>;
  markBrought(task: Pick<Task, "id" | "target">): Promise<void>;
  /** An answer that came back as a verified message with `replyTo`: settles that task. */
  answerByReply(reply: { replyTo: string; from: string; body: string }): Promise<Task | undefined>;
}

const plumbingOf = new WeakMap<Messenger, TaskPlumbing>();

export function attachTaskPlumbing(messenger: Messenger, plumbing: TaskPlumbing): Messenger {
  plumbingOf.set(messenger, plumbing);
  return messenger;
}

/** The task plumbing of a messenger made by `createMessenger`. */
export function taskPlumbing(messenger: Messenger): TaskPlumbing {
  const plumbing = plumbingOf.get(messenger);
  if (!plumbing) throw new TypeError("taskPlumbing() takes a messenger made by createMessenger().");
  return plumbing;
}
