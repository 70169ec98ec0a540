import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliIo, runCli } from "../../src/cli/main.js";
import { type ConfigInput, createLogger, parseConfig, SecretSet, scrubSecrets, ValidationError } from "../../src/index.js";
import { scrubUrlCredentials } from "../../src/util/redact.js";
import { captureLines } from "../harness/capture.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oii-url-credentials-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SECRET = "s3cret-in-query";

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    parseConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).not.toContain(SECRET);
    return [...(error as ValidationError).issues];
  }
  return expect.unreachable("the config was accepted");
}

describe("credentials in a URL's query string", () => {
  it("are refused in gateway.url, a2a.url and nats.servers with a ValidationError naming the field and the fix", () => {
    for (const name of ["token", "auth", "password", "access_token", "key", "apiKey", "secret"]) {
      const gateway = issuesOf({
        self: { name: "xiaoa" },
        instances: { xiaom: { gateway: { url: `ws://127.0.0.1:18789/?${name}=${SECRET}` } } },
      } satisfies ConfigInput);
      expect(gateway).toEqual([{ path: "instances.xiaom.gateway.url", message: expect.stringMatching(new RegExp(`"${name}".*tokenEnv`, "u")) }]);
    }
    const a2a = issuesOf({
      self: { name: "xiaoa" },
      instances: { xiaom: { a2a: { url: `https://xiaom.example/a2a/v1?x=1&access_token=${SECRET}`, tokenEnv: "A2A" } } },
    } satisfies ConfigInput);
    expect(a2a.map((issue) => issue.path)).toEqual(["instances.xiaom.a2a.url"]);
    const nats = issuesOf({
      self: { name: "xiaoa" },
      instances: {},
      nats: { servers: [`nats://10.0.0.2:4222?password=${SECRET}`], fleet: "home" },
    } satisfies ConfigInput);
    expect(nats.map((issue) => issue.path)).toEqual(["nats.servers.0"]);
  });

  it("other query parameters stay allowed", () => {
    expect(
      parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: { gateway: { url: "wss://xiaom.example/?v=2&lang=en" } } } }).instances.xiaom?.gateway?.url,
    ).toBe("wss://xiaom.example/?v=2&lang=en");
  });

  it("are redacted wherever a URL's user-info is: scrubUrlCredentials, scrubSecrets, SecretSet and the logger", () => {
    const text = `Gateway ws://10.0.0.2:18789/?token=${SECRET} is not reachable; also https://h/a2a?x=1&access_token=${SECRET}#top and "wss://h/?Password=${SECRET}&key=${SECRET}"`;
    const scrubbed = scrubUrlCredentials(text);
    expect(scrubbed).toBe(
      'Gateway ws://10.0.0.2:18789/?token=[redacted] is not reachable; also https://h/a2a?x=1&access_token=[redacted]#top and "wss://h/?Password=[redacted]&key=[redacted]"',
    );
    expect(scrubSecrets(text, [])).toBe(scrubbed);
    expect(new SecretSet().scrub(text)).toBe(scrubbed);
    // Not a URL, or not a credential: left alone.
    expect(scrubUrlCredentials("token=abc and https://h/?page=2")).toBe("token=abc and https://h/?page=2");
    const { destination, lines } = captureLines();
    createLogger({ level: "debug", destination, secrets: new SecretSet() }).warn({ url: `ws://10.0.0.2:18789/?auth=${SECRET}` }, text);
    expect(lines.join("\n")).not.toContain(SECRET);
    expect(lines.join("\n")).toContain("ws://10.0.0.2:18789/?auth=[redacted]");
  });

  it("the CLI's add refuses such a URL before writing the config, naming the field", async () => {
    const config = join(dir, "add.json");
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      env: { OPENCLAW_INTER_INSTANCE_HOME: join(dir, "state"), OPENCLAW_CONFIG_PATH: join(dir, "no-openclaw.json") },
      stdin: async () => new Uint8Array(),
    };
    expect(await runCli(["-c", config, "init", "--name", "xiaoa"], io)).toBe(0);
    const code = await runCli(["-c", config, "add", "xiaom", "--url", `ws://127.0.0.1:9/?token=${SECRET}`], io);
    expect(code).toBe(2);
    expect(err.join("")).toContain("instances.xiaom.gateway.url");
    expect(err.join("")).toContain("tokenEnv");
    expect(out.join("") + err.join("")).not.toContain(SECRET);
    expect(await readFile(config, "utf8")).not.toContain(SECRET);
  });
});
