import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createMessenger, type Envelope, type Messenger, type Receipt, type Transport, UnavailableError } from "../../src/index.js";
import { taskPlumbing } from "../../src/internal.js";
import { instanceSend } from "../../src/plugin/tools/instance-send.js";

/** A target reached by "sessions_send" that takes messages, may be down, and answers when told. */
class ScriptedTarget implements Transport {
  readonly id = "sessions_send" as const;
  readonly delivered: Envelope[] = [];
  readonly answers = new Map<string, string>();
  down = new Set<string>();
  applies() {
    return { ok: true } as const;
  }
  async deliver(envelope: Envelope): Promise<Receipt> {
    if (this.down.has(envelope.to)) throw new UnavailableError(`${envelope.to} is down`, { code: "CONNECTION_REFUSED" });
    this.delivered.push(envelope);
    return { status: "accepted", detail: { runId: envelope.id } };
  }
  async followUp(envelope: Envelope) {
    return this.answers.has(envelope.id) ? ({ status: "delivered" } as const) : ({ status: "waiting" } as const);
  }
  async checkReply(envelope: Envelope) {
    return this.answers.get(envelope.id);
  }
}

const dirs: string[] = [];
const links: Messenger[] = [];
afterEach(async () => {
  for (const link of links.splice(0)) await link.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function linkWith(target: ScriptedTarget): Messenger {
  const dir = mkdtempSync(join(tmpdir(), "oii-delegate-"));
  dirs.push(dir);
  const link = createMessenger({
    config: {
      self: { name: "xiaoa" },
      stateDir: dir,
      defaults: { retries: 0, circuitCooldownMs: 0 },
      instances: { xiaom: { transports: ["sessions_send"] }, xiaob: { transports: ["sessions_send"] }, xiaoc: { transports: ["sessions_send"] } },
      groups: { team: ["xiaom", "xiaob", "xiaoc"] },
    },
    transports: [target],
    log: { level: "silent" },
  });
  links.push(link);
  return link;
}

describe("delegate", () => {
  it("returns at once with the task's id; following it finds the answer once, and track says answered with the evidence", async () => {
    const target = new ScriptedTarget();
    const link = linkWith(target);
    const task = await link.delegate({ to: "xiaom", body: "build the release notes", sessionKey: "agent:main:main" });
    expect(task.report).toMatchObject({ ok: true, status: "accepted" });
    expect(target.delivered[0]).toMatchObject({ id: task.id, task: true });
    expect(await link.tasks.follow()).toEqual([]);
    expect((await link.track(task.id)).map((s) => s.state)).toEqual(["accepted"]);
    target.answers.set(task.id, "notes are in docs/release.md");
    const settled = await link.tasks.follow();
    expect(settled).toMatchObject([{ state: "answered", result: "notes are in docs/release.md" }]);
    expect(await link.tasks.follow()).toEqual([]);
    expect(await taskPlumbing(link).toBring()).toMatchObject([{ id: task.id, sessionKey: "agent:main:main", state: "answered" }]);
    const [status] = await link.track(task.id);
    expect(status).toMatchObject({ to: "xiaom", state: "answered" });
    expect(status!.evidence.map((e) => e.source)).toEqual(expect.arrayContaining(["outbox", "reply", "task"]));
  });

  it("an unanswered task expires at its deadline, once", async () => {
    const link = linkWith(new ScriptedTarget());
    const task = await link.delegate({ to: "xiaom", body: "slow work", deadline: 50 });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await link.tasks.follow()).toMatchObject([{ state: "expired", result: expect.stringContaining("did not answer task") }]);
    expect(await link.tasks.follow()).toEqual([]);
    expect((await link.track(task.id, { live: false }))[0]?.state).toBe("expired");
  });

  it("a reply with replyTo from the instance the task went to settles it; from anyone else it does not", async () => {
    const link = linkWith(new ScriptedTarget());
    const task = await link.delegate({ to: "xiaom", body: "check the disk" });
    expect(await taskPlumbing(link).answerByReply({ replyTo: task.id, from: "xiaob", body: "forged" })).toBeUndefined();
    expect(await taskPlumbing(link).answerByReply({ replyTo: task.id, from: "xiaom", body: "disk at 40%" })).toMatchObject({ id: task.id });
    expect(await link.tasks.get(task.id)).toMatchObject({ state: "answered", result: "disk at 40%" });
  });

  it("instance_send with replyTo sends an envelope that carries it (what the receiving plugin settles the task with)", async () => {
    const target = new ScriptedTarget();
    const link = linkWith(target);
    const result = await instanceSend(async () => link, { to: "xiaom", message: "the disk is at 40%", replyTo: "task-0000-1111" });
    expect(result.details.report).toMatchObject({ ok: true, status: "accepted" });
    expect(target.delivered.at(-1)).toMatchObject({ body: "the disk is at 40%", replyTo: "task-0000-1111" });
    await link.send({ to: "xiaom", body: "plain" });
    expect(target.delivered.at(-1)).not.toHaveProperty("replyTo");
  });

  it("refuses a deadline in the past or more than a week away, naming the field", async () => {
    const link = linkWith(new ScriptedTarget());
    await expect(link.delegate({ to: "xiaom", body: "x", deadline: -1 })).rejects.toMatchObject({ code: "INVALID_INPUT", issues: [{ path: "deadline" }] });
    await expect(link.delegate({ to: "xiaom", body: "x", deadline: 8 * 86_400_000 })).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });
});

describe("groups", () => {
  it("one envelope per member, a report per member; a member that is down is queued, then delivered once when it is back", async () => {
    const target = new ScriptedTarget();
    target.down.add("xiaob");
    const link = linkWith(target);
    const report = await link.groups.send({ to: "team", body: "通知：今晚十点维护" });
    expect(report.members.map((m) => [m.to, m.status])).toEqual([
      ["xiaom", "accepted"],
      ["xiaob", "queued"],
      ["xiaoc", "accepted"],
    ]);
    expect(report.ok).toBe(false);
    expect(new Set(report.members.map((m) => m.id)).size).toBe(3);
    expect(report.members.every((m) => m.id.startsWith(`${report.id}.`))).toBe(true);
    expect((await link.track(`${report.id}.xiaob`, { live: false }))[0]?.state).toBe("queued");
    target.down.clear();
    const flushed = await link.outbox.flush({ all: true });
    expect(flushed.filter((r) => r.ok).map((r) => r.to)).toEqual(["xiaob"]);
    await link.outbox.flush({ all: true });
    expect(target.delivered.filter((e) => e.to === "xiaob")).toHaveLength(1);
  });

  it("a group delegate makes one task per member, sharing the group id", async () => {
    const link = linkWith(new ScriptedTarget());
    const result = await link.groups.delegate({ to: "team", body: "report your disk use" });
    expect(result.members).toHaveLength(3);
    const tasks = await link.tasks.open();
    expect(tasks.map((t) => t.group)).toEqual([result.id, result.id, result.id]);
  });

  it("an unknown group is an unknown name with the known ones", async () => {
    const link = linkWith(new ScriptedTarget());
    await expect(link.groups.send({ to: "nobody", body: "x" })).rejects.toMatchObject({ code: "UNKNOWN_INSTANCE" });
  });
});
