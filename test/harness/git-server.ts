import { execFileSync } from "node:child_process";
import { createReadStream, readFileSync } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import type { Host } from "./netns.ts";

export interface TestGitServer {
  /** `http://127.0.0.1:<port>/repo.git`, or `https://<host address>:<port>/repo.git` on a test host. */
  readonly url: string;
  /** The CA a git client needs to trust the server (`GIT_SSL_CAINFO`), when it serves https. */
  readonly caFile: string | undefined;
  /** Commits these files on the served branch `main`; resolves with the new commit id. */
  commit(files: Record<string, string>, message: string): Promise<string>;
  close(): Promise<void>;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=main", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();

/** Serves the files under `dir/repo.git/`: git's "dumb" HTTP protocol needs nothing more. */
function serveRepo(dir: string) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname));
    if (!path.startsWith("/repo.git/")) return void response.writeHead(404).end();
    const file = join(dir, path);
    stat(file).then(
      (info) => (info.isFile() ? createReadStream(file).pipe(response.writeHead(200)) : response.writeHead(404).end()),
      () => response.writeHead(404).end(),
    );
  };
}

const self = fileURLToPath(import.meta.url);

/**
 * A git repository served over git's "dumb" HTTP protocol by a static file server: a real
 * `git clone` with no git daemon. On loopback in this process by default; with `host`, inside that
 * test host over https, with a certificate for its address made by openssl.
 */
export async function startGitServer(dir: string, options: { host?: Host } = {}): Promise<TestGitServer> {
  const bare = join(dir, "repo.git");
  const work = join(dir, "work");
  await mkdir(work, { recursive: true });
  git(dir, "init", "--bare", "--quiet", bare);
  git(work, "init", "--quiet");
  const commit = async (files: Record<string, string>, message: string) => {
    for (const [name, content] of Object.entries(files)) await writeFile(join(work, name), content);
    git(work, "add", "--all");
    git(work, "commit", "--quiet", "-m", message);
    git(work, "push", "--quiet", bare, "HEAD:refs/heads/main");
    git(bare, "symbolic-ref", "HEAD", "refs/heads/main");
    git(bare, "update-server-info");
    return git(work, "rev-parse", "HEAD");
  };
  if (options.host) {
    const host = options.host;
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        `/CN=${host.address}`,
        "-addext",
        `subjectAltName=IP:${host.address}`,
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ],
      { stdio: "ignore" },
    );
    const child = host.spawn(process.execPath, [self, JSON.stringify({ dir, certFile, keyFile })], { stdio: ["ignore", "pipe", "inherit"] });
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        const found = /listening (\d+)/u.exec(chunk.toString())?.[1];
        if (found) resolve(Number(found));
      });
      child.once("exit", (code) => reject(new Error(`git server on ${host.name} exited with ${code}`)));
    });
    return {
      url: `https://${host.address}:${port}/repo.git`,
      caFile: certFile,
      commit,
      close: async () => {
        child.kill("SIGTERM");
      },
    };
  }
  const server = createServer(serveRepo(dir));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/repo.git`,
    caFile: undefined,
    commit,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Run as a script inside a test host: serve https until killed.
if (process.argv[1] === self) {
  const { dir, certFile, keyFile } = JSON.parse(process.argv[2] ?? "{}") as { dir: string; certFile: string; keyFile: string };
  const server = createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, serveRepo(dir));
  server.listen(0, "0.0.0.0", () => {
    const address = server.address();
    console.log(`listening ${typeof address === "object" && address ? address.port : 0}`);
  });
}
