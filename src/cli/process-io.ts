import type { CliIo } from "./context.js";

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The CLI's input and output as this process has them (the bin, and `openclaw inter-instance`). */
export function processIo(extra: Pick<CliIo, "name" | "pluginConfig" | "updatePluginConfig"> = {}): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    stdin: readStdin,
    // A getter: asking opens standard input's handle, which a command that never asks need not do.
    get interactive() {
      return process.stdin.isTTY === true && process.stderr.isTTY === true;
    },
    ...extra,
  };
}
