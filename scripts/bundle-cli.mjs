// After tsc: replaces dist/cli/bin.js (package.json's bin) with an esbuild bundle of the CLI. A
// one-shot command is a fresh process each time, and resolving and loading some 200 modules one by
// one cost more than the work itself. The bundle's entry still checks the Node version before it
// loads anything; each command is its own chunk, loaded when it runs (src/cli/main.ts), and zod is
// bundled in (it still validates every input). The library and the plugin keep using tsc's dist/.
import { globSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "cli");
const chunkDir = "bundle";

/**
 * zod as an ES module inside the bundle rather than the CommonJS build required at run time (the
 * library's src/util/zod.ts does that so its schemas compose with a caller's): one parsed file
 * instead of a hundred-odd resolved and compiled ones.
 */
const bundledZod = {
  name: "bundled-zod",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]util[\\/]zod\.ts$/ }, () => ({
      // jitless: zod's compiled fast path pays off over many parses; a one-shot process parses its config once.
      // required, not imported: esbuild then evaluates zod on the first schema built, not at start (a command
      // whose config was validated before needs none until then, and one that builds no schema never loads it).
      contents:
        'let z;\nexport function zod() {\n  if (z === undefined) {\n    z = require("bundled-zod:esm").z;\n    z.config({ jitless: true });\n  }\n  return z;\n}\n',
      loader: "ts",
      resolveDir: join(root, "src", "util"),
    }));
    // zod's ES module build (a plain require("zod") would bundle its CommonJS one, every locale included),
    // and of it only the members the library calls: esbuild leaves out the rest, about half of it.
    build.onResolve({ filter: /^bundled-zod:esm$/ }, () => ({ path: "zod-esm", namespace: "bundled-zod" }));
    build.onLoad({ filter: /.*/, namespace: "bundled-zod" }, () => {
      const members = ["config", ...zodMembersCalled()];
      return {
        // A member the scan missed would be undefined at its first call: the proxy says why instead.
        contents: `import { ${members.map((name, i) => `${name} as m${i}`).join(", ")} } from "zod";\nexport const z = new Proxy({ ${members.map((name, i) => `${name}: m${i}`).join(", ")} }, { get(members, name) { if (name in members || typeof name === "symbol" || name === "then") return members[name]; throw new Error(\`zod's \${String(name)} is not in the CLI bundle: scripts/bundle-cli.mjs did not find it called in src/\`); } });\n`,
        loader: "js",
        resolveDir: root,
      };
    });
  },
};

/**
 * Every member of zod that the library's source reaches, as `z.string()` or `zod().object(…)` (all of
 * it gets zod from src/util/zod.ts and names it `z`: `const z = zod()`, or a parameter `z: ZodApi`).
 * zod() named or passed otherwise fails the build, and so does a name found that zod does not export
 * ("No matching export"); a member reached in a way the scan still missed makes the bundle's `z` throw
 * at its first use, naming it.
 */
function zodMembersCalled() {
  const names = new Set();
  // src/util/zod.ts defines zod() (the bundle replaces it).
  for (const file of globSync("src/**/*.ts", { cwd: root, exclude: ["src/util/zod.ts"] })) {
    const source = readFileSync(join(root, file), "utf8");
    for (const [, name] of source.matchAll(/(?:\bz|\bzod\(\))\s*\.\s*([A-Za-z_$][\w$]*)/g)) names.add(name);
    // The scan's premise, held: zod() is only named `z`, called on, or handed to a parameter `z: ZodApi`.
    const otherUse = source.replace(/`zod\(\)`|const z = zod\(\);|zod\(\)(?=\s*\.)|\(zod\(\)\)/g, "").match(/\bzod\(\)/u);
    const otherName = source.match(/\b(?!z\b)\w+\??: ZodApi\b/u);
    if (otherUse || otherName)
      throw new Error(`${file}: zod is used as \`${(otherUse ?? otherName)[0]}\`, which the zod scan of scripts/bundle-cli.mjs does not follow: name it \`z\``);
  }
  // Types only (z.infer<…>, z.input<…>, z.output<…>).
  for (const typeOnly of ["infer", "input", "output"]) names.delete(typeOnly);
  return [...names].sort();
}

/**
 * pino too: src/util/log.ts requires it on first use (so that importing the library costs nothing
 * for it); inside the bundle it is one more module, not some twenty files resolved one by one, and
 * still evaluated on first use only (esbuild turns a bundled require() into a lazy init call): a
 * command that logs nothing never runs it.
 */
const PINO_REQUIRE = 'const pinoModule = lazyRequire<typeof import("pino")>("pino");';
const bundledPino = {
  name: "bundled-pino",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]util[\\/]log\.ts$/ }, async (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes(PINO_REQUIRE)) throw new Error(`${args.path} no longer has \`${PINO_REQUIRE}\`: update scripts/bundle-cli.mjs`);
      return {
        contents: source.replace(
          PINO_REQUIRE,
          'let bundledPino: typeof import("pino") | undefined;\nconst pinoModule = (): typeof import("pino") => (bundledPino ??= require("pino"));',
        ),
        loader: "ts",
      };
    });
  },
};

/**
 * zod's namespace re-exports its 60-odd locales (`z.locales`), which the bundle would then carry and
 * load whole (half of zod's 750 KB); the CLI speaks English, zod's default, which zod imports itself.
 */
const englishZodOnly = {
  name: "english-zod-only",
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)
        ? { path: join(dirname(args.importer), "..", "locales", "index.js"), namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

/**
 * Node's built-in modules as CommonJS requires behind small ES modules. For an ES module import of a
 * built-in, Node builds a namespace of its every export, and reading them runs the lazy getters
 * (`fs.promises` loads fs/promises, `crypto.webcrypto` the Web Crypto API, `process.report` the
 * diagnostic report): measured in a fresh process, `import("node:process")` 12 ms against 0.1 ms for
 * `require`, crypto 10 against 0.6, fs 6 against 0.1, util 6 against 0.1. Each shim re-exports the
 * module's plain values only, so no getter runs; a named import of a getter's name fails the build
 * ("No matching export"), and one read through a namespace import is a warning that fails it too.
 * commander's `node:process`, `node:util` and `node:child_process` are shimmed further: child_process
 * (dgram with it) serves only executable subcommands, which this CLI has none of.
 */
const COMMANDER_BUILTINS = {
  "node:process": "export default globalThis.process;\n",
  "node:util": 'export const stripVTControlCharacters = (text) => require("node:util").stripVTControlCharacters(text);\n',
  "node:child_process": 'export default { spawn: (...args) => require("node:child_process").spawn(...args) };\n',
};
/** Getters whose value is a function: exported as a function that reads the getter at its first call. */
const LAZY_FUNCTIONS = { "node:util": ["aborted"] };
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/u;
const requireHere = createRequire(import.meta.url);
const builtinsRequired = {
  name: "builtins-required",
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => {
      // Not a require() (the shims' own) nor a dynamic import (it loads when it is needed anyway).
      if (args.kind !== "import-statement") return undefined;
      const commander = /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) && COMMANDER_BUILTINS[args.path] !== undefined;
      return { path: args.path, namespace: commander ? "commander-builtin" : "required-builtin" };
    });
    build.onLoad({ filter: /.*/, namespace: "commander-builtin" }, (args) => ({ contents: COMMANDER_BUILTINS[args.path], loader: "js" }));
    build.onLoad({ filter: /.*/, namespace: "required-builtin" }, (args) => {
      const plain = Object.entries(Object.getOwnPropertyDescriptors(requireHere(args.path)))
        .filter(([name, descriptor]) => name !== "default" && IDENTIFIER.test(name) && !descriptor.get && !descriptor.set)
        .map(([name]) => name);
      const lazy = (LAZY_FUNCTIONS[args.path] ?? []).map((name) => `export const ${name} = (...args) => builtin.${name}(...args);\n`);
      return {
        contents: `const builtin = require(${JSON.stringify(args.path)});\nexport default builtin;\nexport const { ${plain.join(", ")} } = builtin;\n${lazy.join("")}`,
        loader: "js",
      };
    });
  },
};

rmSync(join(outdir, chunkDir), { recursive: true, force: true });
// tsc's map of the file this replaces would point a debugger at the wrong lines.
rmSync(join(outdir, "bin.js.map"), { force: true });
const bundled = await build({
  entryPoints: { bin: join(root, "src", "cli", "bin.ts") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  chunkNames: `${chunkDir}/[name]-[hash]`,
  // Loaded by path at run time, or not for the CLI: each stays a package of its own in node_modules.
  // jsonc-parser's main is a UMD build whose require() calls esbuild cannot follow (it loads only for a broken config).
  // The CommonJS packages the code imports dynamically stay outside too: bundled, the NATS client's
  // `(await import("@nats-io/transport-node")).connect` was undefined (found by fleet-topology.test).
  external: ["openclaw", "openclaw/*", "bufferutil", "utf-8-validate", "jsonc-parser", "@nats-io/*", "bonjour-service", "json5", "proper-lockfile", "which"],
  // CommonJS code inside an ES module bundle still calls require() for Node's own modules.
  banner: {
    js: 'import { createRequire as __bundleRequire } from "node:module";\nconst require = (globalThis.__openclawInterInstanceRequire ??= __bundleRequire(import.meta.url));',
  },
  plugins: [bundledZod, bundledPino, englishZodOnly, builtinsRequired],
  // Less to read and parse at every start (1.8 MB → 1.4 MB); identifiers keep their names, so error
  // classes and stack frames still read as in the source.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
});
// Among them "Import … will always be undefined": a getter's name read through a namespace import (builtinsRequired).
if (bundled.warnings.length > 0)
  throw new Error(`bundle-cli: esbuild warned ${bundled.warnings.length} time(s) (above): fix them, a warning here is a broken CLI`);
