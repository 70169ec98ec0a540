import type { ChildProcess } from "node:child_process";
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

/** A `pair` run started on a host: the request id it tells the person to approve, and its end. */
export interface PairingRun {
  readonly requestId: string;
  /** Its exit code and everything it printed. */
  readonly finished: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Waits (60 s at most) for a spawned `pair` to print `openclaw devices approve <id>`, as the person reads it. */
export async function pairingAwaitingApproval(pairing: ChildProcess): Promise<PairingRun> {
  let stdout = "";
  let stderr = "";
  pairing.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const finished = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    pairing.once("exit", (code) => resolve({ code, stdout, stderr })),
  );
  const requestId = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no approve command printed; stderr: ${stderr}`)), 60_000);
    pairing.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const id = /openclaw devices approve (\S+)/u.exec(stderr)?.[1];
      if (id) {
        clearTimeout(timer);
        resolve(id);
      }
    });
  });
  return { requestId, finished };
}
