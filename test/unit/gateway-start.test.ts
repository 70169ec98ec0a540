// GatewayConnection.start: it resolves once this client has answered the Gateway's challenge (the Gateway then
// checks the answer while the caller works), or a short wait after the socket opened when no challenge comes;
// never at hello, and never later than the wait on a link that says nothing.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DeviceIdentityStore, GatewayPool } from "../../src/gateway.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  // In order: the servers first, so a handshake still under way fails at once instead of at its budget.
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One unmasked text frame, as a server sends it. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, "utf8");
  const header = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

/** The first whole client frame in `bytes` (clients mask theirs), with its length; undefined until it is all there. */
function clientFrame(bytes: Buffer): { readonly text: string; readonly length: number } | undefined {
  if (bytes.length < 2) return undefined;
  let length = bytes[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length < offset + 4 + length) return undefined;
  const mask = bytes.subarray(offset, offset + 4);
  const payload = Buffer.from(bytes.subarray(offset + 4, offset + 4 + length));
  for (let i = 0; i < payload.length; i += 1) payload[i]! ^= mask[i % 4]!;
  return { text: payload.toString("utf8"), length: offset + 4 + length };
}

/**
 * A WebSocket endpoint that sends the Gateway's connect challenge `challengeAfterMs` after the upgrade (or
 * says nothing at all) and never says hello; it keeps what the client sends.
 */
async function handshakeOnlyServer(options: { readonly challengeAfterMs?: number }): Promise<{ readonly url: string; readonly frames: string[] }> {
  const frames: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer();
  server.on("upgrade", (request, socket: Socket) => {
    sockets.add(socket);
    if (options.challengeAfterMs === undefined) return;
    const accept = createHash("sha1").update(`${request.headers["sec-websocket-key"]}${WEBSOCKET_GUID}`).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const challenge = () =>
      socket.write(textFrame(JSON.stringify({ type: "event", event: "connect.challenge", payload: { nonce: "nonce-for-the-test", ts: Date.now() } })));
    setTimeout(challenge, options.challengeAfterMs);
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let frame = clientFrame(buffered); frame; frame = clientFrame(buffered)) {
        frames.push(frame.text);
        buffered = buffered.subarray(frame.length);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, frames };
}

function pool(): GatewayPool {
  const stateDir = mkdtempSync(join(tmpdir(), "oii-start-"));
  const gateways = new GatewayPool(new DeviceIdentityStore(stateDir));
  cleanups.push(() => gateways.closeAll());
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  return gateways;
}

describe("GatewayConnection.start", () => {
  it("resolves once the challenge is answered, not when the socket opens, and before any hello", async () => {
    const server = await handshakeOnlyServer({ challengeAfterMs: 300 });
    const connection = pool().get({ url: server.url, token: "shared-token" });
    const started = performance.now();
    await connection.start(20_000);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(10_000);
    expect(connection.connected).toBe(false);
    await expect.poll(() => server.frames.map((frame) => (JSON.parse(frame) as { method?: string }).method), { timeout: 5000 }).toContain("connect");
  });

  it("resolves after its wait when the Gateway says nothing, and never rejects", async () => {
    const server = await handshakeOnlyServer({});
    const connection = pool().get({ url: server.url, token: "shared-token", connectTimeoutMs: 60_000 });
    const started = performance.now();
    await expect(connection.start(300)).resolves.toBeUndefined();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(10_000);
    expect(server.frames).toEqual([]);
    expect(connection.connected).toBe(false);
  });
});
