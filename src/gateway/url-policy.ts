import { isIP } from "node:net";

function isPrivateIPv4(host: string): boolean {
  const [a = -1, b = -1] = host.split(".").map(Number);
  return (
    a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254)
  );
}

function isPrivateIPv6(host: string): boolean {
  const lower = host.toLowerCase();
  return lower === "::1" || lower.startsWith("fc") || lower.startsWith("fd") || lower.startsWith("fe80:");
}

/**
 * The reference Gateway client refuses plaintext ws:// (and we refuse http://) to public hosts. Checking first gives a
 * typed error with the fix and guarantees that no socket is opened. Loopback, private and CGNAT
 * addresses, `.local` and `*.ts.net` names stay allowed, as in OpenClaw's own policy; any other
 * host needs `OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1`.
 */
export function isPlaintextAllowed(rawUrl: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const url = new URL(rawUrl);
  if (url.protocol !== "ws:" && url.protocol !== "http:") return true;
  const host = url.hostname
    .replace(/^\[|\]$/gu, "")
    .replace(/\.+$/u, "")
    .toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".ts.net")) return true;
  const family = isIP(host);
  if (family === 4 && isPrivateIPv4(host)) return true;
  if (family === 6 && isPrivateIPv6(host)) return true;
  return env.OPENCLAW_ALLOW_INSECURE_PRIVATE_WS === "1";
}
