// The CLI loads only the command that runs (issue 32 item 3): which one an argv names, and that the
// help, a typo and `help <command>` still see every command.
import { rm } from "node:fs/promises";
import { describe, expect, it, onTestFinished } from "vitest";
import { commandNamed } from "../../src/cli/main.js";
import { cliSandbox, runCliCaptured } from "../harness/cli-run.js";

describe("the command an argv runs", () => {
  it("is its first operand past the program's own options", () => {
    expect(commandNamed(["send", "xiaom", "hi"])).toBe("send");
    expect(commandNamed(["-c", "send", "outbox", "list"])).toBe("outbox");
    expect(commandNamed(["--config", "/tmp/x.json", "--json", "-v", "doctor"])).toBe("doctor");
    expect(commandNamed(["--config=/tmp/x.json", "status", "m1"])).toBe("status");
  });

  it("is none for help, a typo, no command or an operand behind --", () => {
    expect(commandNamed([])).toBeUndefined();
    expect(commandNamed(["--help"])).toBeUndefined();
    expect(commandNamed(["help", "send"])).toBeUndefined();
    expect(commandNamed(["sned", "xiaom"])).toBeUndefined();
    expect(commandNamed(["--", "send"])).toBeUndefined();
  });
});

describe("help and mistakes still see every command", () => {
  it("lists them all, suggests the one meant, and helps with one", async () => {
    const sandbox = await cliSandbox();
    onTestFinished(() => rm(sandbox.dir, { recursive: true, force: true }));
    const help = await runCliCaptured(["--help"], sandbox.env);
    for (const name of ["send", "delegate", "status", "outbox", "log", "metrics", "invite", "discover"])
      expect(help.stdout).toMatch(new RegExp(`^  ${name}\\b`, "mu"));
    const typo = await runCliCaptured(["sned", "xiaom", "hi"], sandbox.env);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("(Did you mean send?)");
    const one = await runCliCaptured(["help", "outbox"], sandbox.env);
    expect(one.stdout).toContain("Usage: openclaw-inter-instance outbox");
  });
});
