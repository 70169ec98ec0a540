import type { GatewayClient } from "@openclaw/gateway-client";
export declare function connectRawClient(url: string, token: string): Promise<GatewayClient>;
