import { expect } from "vitest";
import { type ConfigInput, createMessenger, type Messenger, type TransportId } from "../../src/index.js";
import { openclawOnHost, type TestGateway } from "./gateway.ts";
import type { Host } from "./netns.ts";
import { testLog } from "./secrets-watch.ts";

/**
 * A client on another machine, its device approved once on the Gateway's machine as a person does
 * there: a probe raises the pairing request, `openclaw devices approve` on that host grants it. The
 * messenger returned is a new one, since the refused probe opened the first one's circuit.
 */
export async function approvedMessenger(
  config: ConfigInput,
  at: { host: Host; gateway: TestGateway },
  transport: TransportId = "sessions_send",
): Promise<Messenger> {
  const probing = createMessenger({ config, log: testLog() });
  const [probe] = await probing.probe("xiaom", { transports: [transport] });
  await probing.close();
  const requestId = /openclaw devices approve (\S+?)`/u.exec(probe?.error?.hint ?? "")?.[1];
  if (requestId) expect((await openclawOnHost(at.host, at.gateway, ["devices", "approve", requestId, "--json"])).code).toBe(0);
  return createMessenger({ config, log: testLog() });
}
