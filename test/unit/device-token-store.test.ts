// A one-shot process connects once and the Gateway hands back the device token it already has:
// storing it again must not rewrite (and fsync) the file; a new token or new scopes are written.
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeviceIdentityStore } from "../../src/gateway/device-identity.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("device tokens on disk", () => {
  it("leaves the file alone for the token it holds, and writes a changed one", () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-tokens-"));
    dirs.push(dir);
    const store = new DeviceIdentityStore(dir);
    const url = "wss://xiaom.example:18789";
    store.storeToken(url, "dev1", "operator", { token: "t1", scopes: ["operator.read", "operator.write"] });
    const old = new Date(Date.now() - 60_000);
    utimesSync(store.tokensPath, old, old);

    store.storeToken(url, "dev1", "operator", { token: "t1", scopes: ["operator.read", "operator.write"] });
    expect(statSync(store.tokensPath).mtimeMs).toBe(old.getTime());

    store.storeToken(url, "dev1", "operator", { token: "t1", scopes: ["operator.read"] });
    expect(store.loadToken(url, "dev1", "operator")).toEqual({ token: "t1", scopes: ["operator.read"] });
    store.storeToken(url, "dev1", "operator", { token: "t2", scopes: ["operator.read"] });
    expect(JSON.parse(readFileSync(store.tokensPath, "utf8"))).toEqual({
      [`${new URL(url).origin}|dev1|operator`]: { token: "t2", scopes: ["operator.read"] },
    });
    expect(statSync(store.tokensPath).mtimeMs).toBeGreaterThan(old.getTime());
  });
});
