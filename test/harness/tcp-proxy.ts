import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface TcpProxyOptions {
  /** Where to forward (default 127.0.0.1): e.g. a test host's address, so the proxy sits on the path to it. */
  readonly targetHost?: string;
  /** Extra delay on each direction, as on a slow link (a round trip costs twice this). */
  readonly delayMs?: number;
}

export interface TcpProxy {
  readonly port: number;
  /** ws://127.0.0.1:<port>; for wss:// use `wss://127.0.0.1:<port>` with the target's pin. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Destroys every open connection (a dropped network). */
  dropAll(): void;
  /** From now on, drop what the Gateway sends back on the connections open now; new ones pass. */
  swallowResponses(): void;
  /** A link that drops silently: nothing gets through either way, on open or new connections, and nothing is closed. */
  blackhole(): void;
  /** Forwards again: what was in flight on open connections arrives late; connections accepted during the blackhole are closed. */
  heal(): void;
  /** Closes the port and every connection through it: to a client, the Gateway behind it is down (connection refused). */
  down(): Promise<void>;
  /** Listens on the same port again. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP relay in front of a Gateway, to count, cut, slow down or silently drop the connections a client makes. */
export async function startTcpProxy(targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const swallowing = new WeakSet<Socket>();
  const held = new Set<Socket>();
  let dropping = false;
  let connections = 0;
  const delayMs = options.delayMs ?? 0;
  const later = (work: () => void) => (delayMs > 0 ? setTimeout(work, delayMs) : work());

  const accept = (client: Socket) => {
    connections += 1;
    open.add(client);
    if (dropping) {
      // Accepted, then silence: what a client sees through a middlebox that stopped forwarding.
      held.add(client);
      client.on("error", () => client.destroy()).on("close", () => open.delete(client));
      return;
    }
    const upstream = createConnection({ host: options.targetHost ?? "127.0.0.1", port: targetPort });
    open.add(upstream);
    const cleanup = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", cleanup).on("close", cleanup);
    upstream.on("error", cleanup).on("close", cleanup);
    // While the link drops, what is in flight waits, as TCP would retransmit it once the path is back.
    const relay = (to: Socket, chunk: Buffer) => (dropping ? stalled.push(() => to.write(chunk)) : later(() => to.write(chunk)));
    client.on("data", (chunk: Buffer) => relay(upstream, chunk));
    upstream.on("data", (chunk: Buffer) => {
      if (!swallowing.has(upstream)) relay(client, chunk);
    });
  };
  const stalled: (() => void)[] = [];
  let server: Server | undefined;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const listening = createServer(accept);
      listening.once("error", reject);
      listening.listen(port, "127.0.0.1", () => {
        server = listening;
        resolve((listening.address() as { port: number }).port);
      });
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const socket of open) socket.destroy();
      open.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  const port = await listen(0);
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    dropAll: () => {
      for (const socket of open) socket.destroy();
    },
    swallowResponses: () => {
      for (const socket of open) swallowing.add(socket);
    },
    blackhole: () => {
      dropping = true;
    },
    heal: () => {
      dropping = false;
      for (const socket of held) socket.destroy();
      held.clear();
      for (const write of stalled.splice(0)) write();
    },
    down,
    up: async () => void (await listen(port)),
    close: down,
  };
}
