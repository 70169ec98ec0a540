import { describe, expect, it } from "vitest";
import { httpsAlternative, syncRepo } from "../../src/core.js";
import { type ExecResult, type SyncRepoInput, ValidationError } from "../../src/index.js";

const COMMIT = "a".repeat(40);

/** A scripted target: answers each argv by the longest matching prefix; records what ran. */
function target(answers: Record<string, Partial<ExecResult>>) {
  const ran: string[][] = [];
  const deps = {
    exec: async ({ argv }: { argv: readonly string[] }) => {
      ran.push([...argv]);
      const line = argv.join(" ");
      const key = Object.keys(answers)
        .filter((prefix) => line.startsWith(prefix))
        .sort((a, b) => b.length - a.length)[0];
      const answer = key ? answers[key]! : {};
      const exitCode = answer.exitCode ?? 0;
      return {
        exitCode,
        stdout: "",
        stderr: "",
        timedOut: false,
        truncated: false,
        error: undefined,
        to: "xiaom",
        argv,
        ms: 1,
        ...answer,
        ok: exitCode === 0,
      } as ExecResult;
    },
    nodeOf: () => undefined,
    resolveName: () => "xiaom",
  };
  return { deps, ran };
}

const input: SyncRepoInput = { to: "xiaom", repo: "https://example.com/app.git", dir: "/srv/releases", link: "/srv/current" };
const remote = { "git ls-remote": { stdout: `${COMMIT}\tHEAD\n` }, [`git -C /srv/releases/${COMMIT} rev-parse`]: { exitCode: 128 } };

describe("syncRepo", () => {
  it("checks the commit out into its own directory with argv only, then links it", async () => {
    const { deps, ran } = target({ ...remote, readlink: { stdout: `/srv/releases/${COMMIT}\n` } });
    const result = await syncRepo(deps, { ...input, ref: "release/1.2" });
    expect(result).toMatchObject({ ok: true, action: "cloned", commit: COMMIT, dir: `/srv/releases/${COMMIT}` });
    expect(ran).toContainEqual(["git", "ls-remote", "--", "https://example.com/app.git", "release/1.2"]);
    expect(ran).toContainEqual(["git", "clone", "--no-checkout", "--", "https://example.com/app.git", `/srv/releases/${COMMIT}`]);
    expect(ran).toContainEqual(["git", "-C", `/srv/releases/${COMMIT}`, "checkout", "--detach", COMMIT]);
    expect(ran).toContainEqual(["ln", "-sfn", "--", `/srv/releases/${COMMIT}`, "/srv/current"]);
  });

  it("puts the previous link back when readlink shows the new one is wrong", async () => {
    let readlinks = 0;
    const { deps, ran } = target(remote);
    const exec = deps.exec;
    deps.exec = async (call) => {
      if (call.argv[0] === "readlink") return { ...(await exec(call)), stdout: readlinks++ === 0 ? "/srv/releases/old\n" : "/somewhere/else\n" };
      return exec(call);
    };
    const result = await syncRepo(deps, input);
    expect(result).toMatchObject({ ok: false, commit: COMMIT, link: { previous: "/srv/releases/old", target: "/somewhere/else", rolledBack: true } });
    expect(ran.at(-1)).toEqual(["ln", "-sfn", "--", "/srv/releases/old", "/srv/current"]);
  });

  it("does not touch the link when an expected file is missing", async () => {
    const { deps, ran } = target({ ...remote, "test -e": { exitCode: 1 } });
    const result = await syncRepo(deps, { ...input, expect: ["package.json"] });
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining("lacks package.json") });
    expect(ran.some((argv) => argv[0] === "ln")).toBe(false);
  });

  it("refuses refs and paths that could be read as options or escape, and SSH URLs with the HTTPS twin named", async () => {
    const { deps, ran } = target({});
    await expect(syncRepo(deps, { ...input, ref: "--upload-pack=touch /tmp/x" })).rejects.toBeInstanceOf(ValidationError);
    await expect(syncRepo(deps, { ...input, dir: "/srv/../etc" })).rejects.toBeInstanceOf(ValidationError);
    await expect(syncRepo(deps, { ...input, expect: ["../../etc/passwd"] })).rejects.toBeInstanceOf(ValidationError);
    await expect(syncRepo(deps, { ...input, repo: "http://example.com/app.git" })).rejects.toThrow(/https/u);
    await expect(syncRepo(deps, { ...input, repo: "git@github.com:me/app.git" })).rejects.toThrow("https://github.com/me/app.git");
    expect(ran).toEqual([]);
    expect(httpsAlternative("ssh://git@example.com:2222/team/app.git")).toBe("https://example.com/team/app.git");
  });
});
