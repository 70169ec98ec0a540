import type { z } from "zod";
import { once } from "../../util/lazy.js";
import { inboundActionSchema } from "./inbound.js";
import { instanceSchema } from "./instance.js";
import { natsSchema } from "./nats.js";
import { configSchema } from "./root.js";
import { secretRefSchema } from "./secret.js";

export { DEFAULT_TIMEOUTS_MS, DEFAULT_TRANSPORT_ORDER, TRANSPORT_IDS, type TransportId } from "./transport-defaults.js";

/**
 * Where an instance's config holds a credential (`<field>.token`), besides `nats.auth.token`: the
 * plugin manifest declares these as SecretRef inputs, the plugin resolves them, doctor checks them.
 */
export const CREDENTIAL_FIELDS = ["gateway", "a2a", "messageTool.gateway", "node.gateway"] as const;

/** The config schemas, built on first use (see `zod()`). */
export const configSchemas = once(() => ({
  configSchema: configSchema(),
  secretRefSchema: secretRefSchema(),
  inboundActionSchema: inboundActionSchema(),
  instanceSchema: instanceSchema(),
  natsSchema: natsSchema(),
}));

type Schemas = ReturnType<typeof configSchemas>;
export type SecretRef = z.output<Schemas["secretRefSchema"]>;
export type InboundAction = z.output<Schemas["inboundActionSchema"]>;
export type NatsConfig = z.output<Schemas["natsSchema"]>;
export type ConfigInput = z.input<Schemas["configSchema"]>;
export type Config = z.output<Schemas["configSchema"]>;
export type InstanceConfig = z.output<Schemas["instanceSchema"]>;
