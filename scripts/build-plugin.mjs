// After tsc: writes openclaw.plugin.json (its configSchema generated from the zod schema, so the
// Gateway validates plugin config exactly as the library does), bundles the Control UI page (the
// Gateway serves prebuilt assets named in the manifest's controlUi) and ships SKILL.md as the skill.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CREDENTIAL_FIELDS, configSchemas } from "../dist/config/schema.js";
import { INTER_INSTANCE_CLI } from "../dist/plugin/cli-command.js";
import { TOOLS } from "../dist/plugin/tools/list.js";
import { zod } from "../dist/util/zod.js";

const CREDENTIAL_PATHS = [...CREDENTIAL_FIELDS.map((field) => `instances.*.${field}.token`), "nats.auth.token"];
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const z = zod();
const { $schema: _ignored, ...schema } = z.toJSONSchema(configSchemas().configSchema, { io: "input", target: "draft-7" });

// The Instances page: one self-contained ES module and its stylesheet, in a folder named by their
// hash so a browser never mixes an old page with new assets.
const bundle = await build({
  entryPoints: { index: join(root, "src", "plugin", "control-ui", "page.ts") },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  write: false,
  outdir: "out",
  logLevel: "warning",
});
const assetHash = createHash("sha256");
for (const file of bundle.outputFiles) assetHash.update(file.contents);
const assetDir = join("dist", "control-ui", assetHash.digest("hex").slice(0, 16));
rmSync(join(root, "dist", "control-ui"), { recursive: true, force: true });
mkdirSync(join(root, assetDir), { recursive: true });
for (const file of bundle.outputFiles) writeFileSync(join(root, assetDir, file.path.split("/").at(-1)), file.contents);

const manifest = {
  id: "inter-instance",
  name: "Inter-instance messaging",
  description: "Send messages between OpenClaw instances on different machines, with fallback transports and a durable outbox.",
  version: pkg.version,
  categories: ["other"],
  activation: { onStartup: true },
  contracts: { tools: TOOLS.map((tool) => tool.name) },
  // Running commands and writing files on another machine is opt-in: tools.allow ["instance_exec"].
  toolMetadata: Object.fromEntries(TOOLS.filter((tool) => tool.optional).map((tool) => [tool.name, { optional: true }])),
  skills: ["./dist/skills"],
  // `openclaw inter-instance <command>` runs this package's CLI; `/instances` in chat lists the instances.
  cliCommands: [INTER_INSTANCE_CLI],
  commandAliases: [{ name: "instances", kind: "runtime-slash", cliCommand: INTER_INSTANCE_CLI.name }],
  controlUi: { entry: `${assetDir}/index.js`, styles: [`${assetDir}/index.css`] },
  // Every credential may be a SecretRef: the Gateway resolves it before the plugin reads its config,
  // redacts it in config views, and lists it in `openclaw secrets audit`. A "route" owner keeps one
  // unresolvable ref from stopping the Gateway; that instance's transport reports the missing token.
  configContracts: {
    secretInputs: {
      paths: CREDENTIAL_PATHS.map((path) => ({ path, expected: "string", ownerKind: "route" })),
    },
  },
  uiHints: Object.fromEntries(CREDENTIAL_PATHS.map((path) => [path, { label: "Token", sensitive: true }])),
  configSchema: schema,
};
writeFileSync(join(root, "openclaw.plugin.json"), `${JSON.stringify(manifest, null, 2)}\n`);
mkdirSync(join(root, "dist", "skills", "openclaw-inter-instance"), { recursive: true });
copyFileSync(join(root, "SKILL.md"), join(root, "dist", "skills", "openclaw-inter-instance", "SKILL.md"));
