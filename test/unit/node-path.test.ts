import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeTarget } from "../../src/config/registry.js";
import { nodeApprovalSteps } from "../../src/transports/nodes/approval-steps.js";
import { runCliCaptured } from "../harness/cli-run.js";

const target: NodeTarget = {
  gateway: { url: "wss://vps.example.com:18789", tlsFingerprint: "AB:CD", credential: "device", tokenSource: "device token" } as NodeTarget["gateway"],
  id: undefined,
  name: "xiaom-mac",
  workspace: "/Users/me/.openclaw/workspace",
};

describe("the node path: which approvals are missing, in order", () => {
  it("a node never seen: settings first, then the node host, devices approve, a restart, nodes approve", () => {
    const text = nodeApprovalSteps(target, "wss://vps.example.com:18789", "not-listed");
    const order = [
      "gateway.nodes.commands.allow '[\"file.write\"]'",
      "openclaw node run --host vps.example.com --port 18789 --tls --tls-fingerprint AB:CD --display-name xiaom-mac",
      "openclaw devices approve <requestId>",
      "openclaw node restart",
      "openclaw nodes approve <requestId>",
    ].map((part) => text.indexOf(part));
    expect(
      order.every((at) => at >= 0),
      text,
    ).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    expect(text).toMatch(/^Missing, in this order: 1\. /u);
    expect(text).toMatch(/does not resume by itself/u);
  });

  it("connected, surface pending: only the nodes approval, with its request id", () => {
    const text = nodeApprovalSteps(target, "wss://vps.example.com:18789", "surface-pending", { requestId: "r-123" });
    expect(text).toContain("openclaw nodes approve r-123");
    expect(text).not.toContain("devices approve");
  });

  it("a command missing from the approved surface: allow it, restart the node, approve the new surface", () => {
    const text = nodeApprovalSteps(target, "wss://vps.example.com:18789", "command-missing", { missing: ["file.write", "system.run"] });
    expect(text).toContain(`'["file.write","system.run"]'`);
    expect(text.indexOf("commands.allow")).toBeLessThan(text.indexOf("openclaw node restart"));
    expect(text.indexOf("openclaw node restart")).toBeLessThan(text.indexOf("new command surface"));
  });
});

describe("add --node", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "oii-node-path-"));
    await writeFile(join(dir, "config.json"), JSON.stringify({ self: { name: "xiaoa" }, instances: {} }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const cli = (args: string[]) => runCliCaptured(["--config", join(dir, "config.json"), ...args], { OPENCLAW_INTER_INSTANCE_HOME: join(dir, "state") });

  it("writes instances.<name>.node without a Gateway URL of its own, then runs the doctor", async () => {
    const result = await cli([
      "add",
      "xiaom",
      "--node",
      "xiaom-mac",
      "--node-gateway",
      "wss://127.0.0.1:9",
      "--node-tls-fingerprint",
      "AB".repeat(32),
      "--node-workspace",
      "/Users/me/.openclaw/workspace",
    ]);
    expect(result.stdout).toMatch(/^Added xiaom \(node xiaom-mac on wss:\/\/127\.0\.0\.1:9\)\./u);
    const saved = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as { instances: Record<string, unknown> };
    expect(saved.instances.xiaom).toEqual({
      node: { gateway: { url: "wss://127.0.0.1:9", tlsFingerprint: "AB".repeat(32) }, name: "xiaom-mac", workspace: "/Users/me/.openclaw/workspace" },
    });
    expect(result.code).toBe(1);
  });

  it("--node without --node-gateway is refused with what to give", async () => {
    const result = await cli(["add", "xiaom", "--node", "xiaom-mac"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--node-gateway <url of the Gateway it is paired to>/u);
  });
});
