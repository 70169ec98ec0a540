import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Destroys every open connection (a dropped network). */
  dropAll(): void;
  /** From now on, drop what the Gateway sends back on the connections open now; new ones pass. */
  swallowResponses(): void;
  close(): Promise<void>;
}

/** A loopback TCP relay in front of a Gateway, to count and cut the connections a client makes. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const swallowing = new WeakSet<Socket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections += 1;
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    open.add(client);
    open.add(upstream);
    const cleanup = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", cleanup).on("close", cleanup);
    upstream.on("error", cleanup).on("close", cleanup);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (!swallowing.has(upstream)) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
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
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
