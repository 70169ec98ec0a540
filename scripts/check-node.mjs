// `npm test` puts node_modules/.bin first on PATH, so `node` here is the Node 24 of the "node"
// devDependency. If it is not, OpenClaw cannot start and every integration test would fail late.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 24 || (major === 24 && minor < 16)) {
  console.error(
    `Tests need Node >= 24.16 (OpenClaw 2026.9.6), found ${process.versions.node} at ${process.execPath}.\n` +
      "Run `npm install` first: it installs Node 24 into node_modules/.bin, which `npm test` uses.",
  );
  process.exit(1);
}
