import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse.js";
import { InstanceRegistry } from "../../src/config/registry.js";
import { credentialChecks } from "../../src/use-cases/doctor/least-privilege.js";

describe("doctor: which credential each path uses, and what it grants", () => {
  it("a shared token warns with how to pair instead; a device token and an A2A peer token pass, each saying what it grants", () => {
    const registry = new InstanceRegistry(
      parseConfig({
        self: { name: "xiaoa" },
        instances: {
          shared: {
            gateway: { url: "wss://xiaom.example.ts.net", tokenEnv: "XIAOM_TOKEN" },
            a2a: { url: "https://xiaom.example.ts.net", token: "peer-token-0123456789" },
          },
          paired: { gateway: { url: "wss://xiaob.example.ts.net" }, node: { name: "mac", gateway: { url: "wss://xiaob.example.ts.net" } } },
        },
      }),
      { XIAOM_TOKEN: "tok-shared-0123456789" },
    );
    const [shared, paired] = [registry.resolve("shared"), registry.resolve("paired")];
    expect(credentialChecks(shared).map((check) => [check.check, check.status])).toEqual([
      ["credential:instances.shared.gateway", "warn"],
      ["credential:instances.shared.a2a", "pass"],
    ]);
    const [gateway, a2a] = credentialChecks(shared);
    expect(gateway?.summary).toContain("a shared Gateway token (environment variable XIAOM_TOKEN), which grants operator access to that Gateway");
    expect(gateway?.fix).toMatch(/openclaw-inter-instance invite.*openclaw-inter-instance pair shared <invite>/u);
    expect(a2a?.summary).toContain("grants messages into this sender's own A2A conversations there, nothing else");
    expect(credentialChecks(paired).map((check) => [check.check, check.status])).toEqual([
      ["credential:instances.paired.gateway", "pass"],
      ["credential:instances.paired.node.gateway", "pass"],
    ]);
    expect(JSON.stringify(credentialChecks(shared))).not.toContain("tok-shared-0123456789");
  });
});
