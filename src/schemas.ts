// `openclaw-inter-instance/schemas`: the zod schemas the library validates with, for code that
// validates a registry or an envelope itself. Apart from the main entry so that importing the
// library does not load zod.
import { configSchemas } from "./config/schema.js";
import { envelopeSchema as buildEnvelopeSchema } from "./core/envelope.js";

export const configSchema = configSchemas().configSchema;
export const envelopeSchema = buildEnvelopeSchema();
