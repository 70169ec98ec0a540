// SessionsSendTransport.prepare: the handshake of a send starts before the dispatcher's own work.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeviceIdentityStore, GatewayPool } from "../../src/gateway.js";
import { InstanceRegistry, parseConfig } from "../../src/index.js";
import { SessionsSendTransport } from "../../src/transports.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe("SessionsSendTransport.prepare", () => {
  it("opens the socket to the target's Gateway at once, and a refusal there is left for deliver to report", async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => server.close());
    const port = (server.address() as { port: number }).port;
    const stateDir = mkdtempSync(join(tmpdir(), "oii-prepare-"));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const registry = new InstanceRegistry(
      parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: { gateway: { url: `ws://127.0.0.1:${port}`, token: "t" } } } }),
      {},
    );
    const pool = new GatewayPool(new DeviceIdentityStore(stateDir));
    cleanups.push(() => void pool.closeAll());
    const transport = new SessionsSendTransport(pool);
    // Resolves once the handshake is under way, never rejects; the socket follows. A failed handshake must not surface
    // as an unhandled rejection (vitest fails the run on one).
    await expect(transport.prepare(registry.resolve("xiaom"))).resolves.toBeUndefined();
    await expect.poll(() => sockets.length, { timeout: 5000 }).toBeGreaterThan(0);
    // No Gateway configured: nothing to start (asking the pool for its connection would throw NOT_CONFIGURED).
    const bare = new InstanceRegistry(parseConfig({ self: { name: "xiaoa" }, instances: { xiaob: { transports: ["memory_file"], workspace: "/tmp/x" } } }), {});
    await expect(transport.prepare(bare.resolve("xiaob"))).resolves.toBeUndefined();
  });
});
