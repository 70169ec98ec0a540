import { execFileSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join, normalize } from "node:path";

export interface TestGitServer {
  /** `http://127.0.0.1:<port>/repo.git` */
  readonly url: string;
  /** Commits these files on the served branch `main`; resolves with the new commit id. */
  commit(files: Record<string, string>, message: string): Promise<string>;
  close(): Promise<void>;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" }).trim();

/**
 * A git repository served over git's "dumb" HTTP protocol by a static file server on loopback:
 * a real `git clone http://…` with no git daemon and no network.
 */
export async function startGitServer(dir: string): Promise<TestGitServer> {
  const bare = join(dir, "repo.git");
  const work = join(dir, "work");
  await mkdir(work, { recursive: true });
  git(dir, "init", "--bare", "--quiet", bare);
  git(work, "init", "--quiet");
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname));
    if (!path.startsWith("/repo.git/")) return void response.writeHead(404).end();
    const file = join(dir, path);
    stat(file).then(
      (info) => (info.isFile() ? createReadStream(file).pipe(response.writeHead(200)) : response.writeHead(404).end()),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/repo.git`,
    async commit(files, message) {
      for (const [name, content] of Object.entries(files)) await writeFile(join(work, name), content);
      git(work, "add", "--all");
      git(work, "commit", "--quiet", "-m", message);
      git(work, "push", "--quiet", bare, "HEAD:refs/heads/main");
      git(bare, "symbolic-ref", "HEAD", "refs/heads/main");
      git(bare, "update-server-info");
      return git(work, "rev-parse", "HEAD");
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
