import { describe, expect, it } from "vitest";
import { syncRepo, ValidationError, type ExecResult, type SyncRepoInput } from "../../src/index.js";

/** A scripted target: answers each argv by its first words; records what ran. */
function target(answers: Record<string, Partial<ExecResult>>) {
  const ran: string[][] = [];
  const deps = {
    exec: async ({ argv }: { argv: readonly string[] }) => {
      ran.push([...argv]);
      const key = Object.keys(answers).find((prefix) => argv.join(" ").startsWith(prefix));
      const answer = key ? answers[key]! : {};
      return { ok: answer.exitCode === undefined ? true : answer.exitCode === 0, exitCode: 0, stdout: "", stderr: "", timedOut: false, truncated: false, error: undefined, to: "xiaom", argv, ms: 1, ...answer } as ExecResult;
    },
    nodeOf: () => undefined,
    resolveName: () => "xiaom",
  };
  return { deps, ran };
}

const input: SyncRepoInput = { to: "xiaom", repo: "https://example.com/app.git", dir: "/srv/app-2", link: "/srv/current" };

describe("syncRepo", () => {
  it("puts the previous link back when readlink shows the new one is wrong", async () => {
    let readlinks = 0;
    const { deps, ran } = target({ "git -C /srv/app-2 rev-parse --is-inside-work-tree": { exitCode: 128 }, "git -C /srv/app-2 rev-parse HEAD": { stdout: "abc\n" } });
    const exec = deps.exec;
    deps.exec = async (call) => {
      if (call.argv[0] === "readlink") return { ...(await exec(call)), stdout: readlinks++ === 0 ? "/srv/app-1\n" : "/somewhere/else\n" };
      return exec(call);
    };
    const result = await syncRepo(deps, input);
    expect(result).toMatchObject({ ok: false, commit: "abc", link: { previous: "/srv/app-1", target: "/somewhere/else", rolledBack: true } });
    expect(ran.at(-1)).toEqual(["ln", "-sfn", "--", "/srv/app-1", "/srv/current"]);
  });

  it("clones into a missing checkout and fetches into a present one, argv only", async () => {
    const missing = target({ "git -C /srv/app-2 rev-parse --is-inside-work-tree": { exitCode: 128 } });
    await syncRepo(missing.deps, { ...input, link: undefined, ref: "release/1.2" });
    expect(missing.ran).toContainEqual(["git", "clone", "--branch", "release/1.2", "--", "https://example.com/app.git", "/srv/app-2"]);
    const present = target({});
    await syncRepo(present.deps, { ...input, link: undefined });
    expect(present.ran).toContainEqual(["git", "-C", "/srv/app-2", "fetch", "--prune", "--", "https://example.com/app.git"]);
    expect(present.ran).toContainEqual(["git", "-C", "/srv/app-2", "merge", "--ff-only", "FETCH_HEAD"]);
  });

  it("refuses refs and paths that could be read as options or escape", async () => {
    const { deps, ran } = target({});
    await expect(syncRepo(deps, { ...input, ref: "--upload-pack=touch /tmp/x" })).rejects.toBeInstanceOf(ValidationError);
    await expect(syncRepo(deps, { ...input, dir: "/srv/../etc" })).rejects.toBeInstanceOf(ValidationError);
    await expect(syncRepo(deps, { ...input, repo: "http://example.com/app.git" })).rejects.toThrow(/https/u);
    expect(ran).toEqual([]);
  });
});
