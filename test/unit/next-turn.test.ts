import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PLUGIN_ID } from "../../src/plugin/id.js";
import { queueIntoNextTurn } from "../../src/plugin/next-turn.js";

// The host side as OpenClaw 2026.9's host-hook-state.ts behaves (read from its source): at most 32
// pending injections per plugin and session, texts up to 32,768 characters, a pending idempotency
// key is not queued twice; each refusal is `enqueued: false` with the key as id, and no error.
function host() {
  const pending: { idempotencyKey: string; text: string }[] = [];
  const api = {
    session: {
      workflow: {
        enqueueNextTurnInjection: async (injection: { sessionKey: string; text: string; idempotencyKey: string }) => {
          const id = injection.idempotencyKey;
          if (injection.text.trim().length > 32_768) return { enqueued: false, id: "", sessionKey: injection.sessionKey };
          if (pending.some((entry) => entry.idempotencyKey === id) || pending.length >= 32) return { enqueued: false, id, sessionKey: injection.sessionKey };
          pending.push({ idempotencyKey: id, text: injection.text });
          return { enqueued: true, id, sessionKey: injection.sessionKey };
        },
      },
    },
    runtime: { agent: { session: { getSessionEntry: () => ({ pluginNextTurnInjections: { [PLUGIN_ID]: [...pending] } }) } } },
  };
  return { api: api as unknown as OpenClawPluginApi, pending, drain: () => pending.splice(0) };
}

let workspace: string;
beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), "oii-next-turn-"));
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

const logger = { info: () => undefined };
const message = (n: number, text = `body ${n}`) => ({ id: `id-${n}`, from: "xiaoa", text });

describe("queueIntoNextTurn", () => {
  it("past the host's 32 pending injections it answers false (try later), and true once a turn took the others", async () => {
    const { api, drain } = host();
    const target = { sessionKey: "agent:main:main", workspace, wake: undefined };
    const answers = [];
    for (let n = 1; n <= 34; n += 1) answers.push(await queueIntoNextTurn(api, logger, target, message(n)));
    expect(answers.filter(Boolean)).toHaveLength(32);
    expect(answers.slice(32)).toEqual([false, false]);
    drain();
    expect(await queueIntoNextTurn(api, logger, target, message(33))).toBe(true);
  });

  it("a message already pending is held: true, and queued once", async () => {
    const { api, pending } = host();
    const target = { sessionKey: "agent:main:main", workspace, wake: undefined };
    expect(await queueIntoNextTurn(api, logger, target, message(1))).toBe(true);
    expect(await queueIntoNextTurn(api, logger, target, message(1))).toBe(true);
    expect(pending).toHaveLength(1);
  });

  it("a message longer than one injection is kept whole in the workspace; the agent reads its start and the path", async () => {
    const { api, pending } = host();
    const long = `${"长".repeat(40_000)}\nthe end`;
    expect(await queueIntoNextTurn(api, logger, { sessionKey: "agent:main:main", workspace, wake: undefined }, message(7, long))).toBe(true);
    expect(pending[0]!.text.length).toBeLessThanOrEqual(32_768);
    const path = /in (\/\S+\.txt)\]$/u.exec(pending[0]!.text)?.[1];
    expect(path).toBe(join(workspace, ".openclaw-inter-instance", "long-messages", "id-7.txt"));
    expect(await readFile(path!, "utf8")).toBe(long);
  });
});
