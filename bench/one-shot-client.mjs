// The floor for a one-shot send: a fresh Node process that imports OpenClaw's reference client,
// connects with the shared token and makes one sessions.send, as a minimal script would.
// BENCH_URL, BENCH_TOKEN, BENCH_MESSAGE from the environment.
import { randomUUID } from "node:crypto";
import { connectRawClient } from "./raw-client.mjs";

const client = await connectRawClient(process.env.BENCH_URL, process.env.BENCH_TOKEN);
await client.request("sessions.send", { key: "agent:main:main", message: process.env.BENCH_MESSAGE, idempotencyKey: randomUUID() });
await client.stopAndWait({ timeoutMs: 2000 });
