import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../src/index.js";

const sourceFiles = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true })).filter((file) => file.endsWith(".ts")).map((file) => join(dir, file));

describe("error codes", () => {
  it("every code the library sets is in ERROR_CODES, and every listed code is set somewhere", async () => {
    const sources = await Promise.all((await sourceFiles("src")).map((file) => readFile(file, "utf8")));
    const set = new Set(sources.flatMap((text) => [...text.matchAll(/code: "([A-Z][A-Z0-9_]+)"/gu)].map((match) => match[1]!)));
    expect([...set].filter((code) => !(ERROR_CODES as readonly string[]).includes(code))).toEqual([]);
    const everywhere = sources.join("\n").replace(/export const ERROR_CODES[\s\S]*?\] as const;/u, "");
    // FILE_WRITE_FAILED is spelled `FILE_WRITE_${payload.code ?? "FAILED"}` (a node's own code, or this one).
    expect(ERROR_CODES.filter((code) => !everywhere.includes(`"${code}"`) && code !== "FILE_WRITE_FAILED")).toEqual([]);
  });
});
