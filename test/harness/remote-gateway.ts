import { mkdir } from "node:fs/promises";
import { type GatewayOptions, startGateway, type TestGateway } from "./gateway.ts";
import { type MockModelOptions, type MockModelServer, startMockModel } from "./mock-model.ts";
import { createHosts, type Host, type Hosts, type HostsOptions } from "./netns.ts";

export interface GatewayOnHost {
  readonly hosts: Hosts;
  /** The host the Gateway runs on. */
  readonly host: Host;
  readonly mock: MockModelServer;
  readonly gateway: TestGateway;
  /** Stops the Gateway and the mock model, then removes the hosts. */
  dispose(): Promise<void>;
}

/**
 * "Another machine" with a Gateway: test hosts in network namespaces, a mock model that only the
 * Gateway's host reaches (on its link), and the Gateway inside that host with its workspace made.
 */
export async function startGatewayOnHost(options: {
  readonly name: string;
  readonly hostNames?: readonly string[];
  /** Which of the hosts runs the Gateway (the last one unless set). */
  readonly on?: string;
  readonly hostsOptions?: HostsOptions;
  readonly gateway?: Omit<GatewayOptions, "modelBaseUrl" | "host" | "name">;
  readonly mock?: Omit<MockModelOptions, "address">;
}): Promise<GatewayOnHost> {
  const names = options.hostNames ?? ["b"];
  const hosts = await createHosts(names, options.hostsOptions);
  const host = hosts.get(options.on ?? names.at(-1)!);
  let mock: MockModelServer | undefined;
  try {
    mock = await startMockModel({ ...options.mock, address: host.gatewayAddress });
    const gateway = await startGateway({ ...options.gateway, modelBaseUrl: mock.url, name: options.name, host });
    await mkdir(gateway.workspace, { recursive: true });
    const started = mock;
    return {
      hosts,
      host,
      mock: started,
      gateway,
      dispose: async () => {
        await gateway.dispose();
        await started.close();
        await hosts.dispose();
      },
    };
  } catch (error) {
    await mock?.close();
    await hosts.dispose();
    throw error;
  }
}
