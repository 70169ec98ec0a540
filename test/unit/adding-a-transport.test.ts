import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parseConfig, ValidationError } from "../../src/index.js";

// CONTRIBUTING.md "Adding a transport", proved: a copy of src/ gets a toy transport as one folder
// (test/fixtures/toy-transport) and one entry in transports/built-in.ts, and nothing else.
describe("adding a transport", () => {
  it("is one folder and one list entry: the copy typechecks, the config takes its id, createMessenger sends through it, doctor knows its minimum", async () => {
    expect(() => parseConfig({ self: { name: "xiaoa" }, instances: { xiaot: { transports: ["toy"] } } })).toThrow(ValidationError);

    // Inside the repository, so the copy resolves the same node_modules.
    const root = await mkdtemp(join(process.cwd(), "test", ".toy-"));
    const scratch = await mkdtemp(join(tmpdir(), "oii-toy-"));
    try {
      await cp("src", join(root, "src"), { recursive: true });
      await cp(join("test", "fixtures", "toy-transport"), join(root, "src", "transports", "toy"), { recursive: true });
      const listPath = join(root, "src", "transports", "built-in.ts");
      const list = await readFile(listPath, "utf8");
      await writeFile(
        listPath,
        list
          .replace(
            'import { sessionsSend } from "./sessions-send/descriptor.js";',
            'import { sessionsSend } from "./sessions-send/descriptor.js";\nimport { toy } from "./toy/descriptor.js";',
          )
          .replace("a2a, nats] as const;", "a2a, nats, toy] as const;"),
      );

      const diff = await execa("git", ["diff", "--no-index", "--numstat", "src", relative(process.cwd(), join(root, "src"))], { reject: false });
      const changed = diff.stdout
        .split("\n")
        .map((line) => line.split("\t"))
        .map(([added, removed, path]) => `${added} ${removed} ${path?.replace(/\{?src => [^}]*\}?|test\/\.toy-[^/]+\//gu, "")}`);
      expect(changed.map((line) => line.replace(/^(\d+ \d+) .*?(transports\/.*)$/u, "$1 $2"))).toEqual([
        "2 1 transports/built-in.ts",
        "11 0 transports/toy/descriptor.ts",
        "25 0 transports/toy/transport.ts",
      ]);

      const tsconfig = join(root, "tsconfig.json");
      await writeFile(
        tsconfig,
        JSON.stringify({ extends: "../../tsconfig.json", include: ["src"], exclude: ["src/plugin/control-ui/page.ts", "src/plugin/control-ui/css.d.ts"] }),
      );
      const typecheck = await execa(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), "-p", tsconfig], { reject: false });
      expect(typecheck.stdout, "the copy with the toy typechecks").toBe("");

      const library = (await import(join(root, "src", "index.ts"))) as typeof import("../../src/index.js");
      const core = (await import(join(root, "src", "core.ts"))) as typeof import("../../src/core.js");
      const link = library.createMessenger({
        config: {
          self: { name: "xiaoa" },
          stateDir: join(scratch, "state"),
          instances: { xiaot: { transports: ["toy"] as never, timeouts: { toy: 500 } as never } },
        },
        env: { TOY_INBOX: scratch },
        log: { level: "silent" },
      });
      try {
        const report = await link.send({ to: "xiaot", body: "hello, toy" });
        expect(report).toMatchObject({ ok: true, via: "toy", status: "written" });
        expect(JSON.parse(await readFile(join(scratch, `${report.id}.json`), "utf8"))).toMatchObject({ body: "hello, toy", to: "xiaot" });
        expect((library.DEFAULT_TIMEOUTS_MS as Record<string, number>).toy).toBe(5_000);
        expect((core.MIN_TIMEOUTS_MS as Record<string, number>).toy).toBe(1_000);
        const checks = (await link.doctor({ instance: "xiaot" })).checks;
        expect(checks).toContainEqual(expect.objectContaining({ check: "timeout:toy", status: "fail", summary: expect.stringContaining("at least 1000 ms") }));
      } finally {
        await link.close();
      }
      expect((await readdir(scratch)).filter((name) => name.endsWith(".json"))).toHaveLength(1);
    } finally {
      await rm(root, { recursive: true, force: true });
      await rm(scratch, { recursive: true, force: true });
    }
  }, 120_000);
});
