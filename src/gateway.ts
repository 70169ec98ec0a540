// `openclaw-inter-instance/gateway`: the Gateway connection (OpenClaw's reference client with this
// machine's device identity), pairing from a setup code, and what a Gateway's errors mean.

export { classifyGatewayError } from "./gateway/classify.js";
export { GatewayConnection, type GatewayConnectionOptions, GatewayPool, type RequestOptions } from "./gateway/connection.js";
export { type DeviceIdentity, DeviceIdentityStore, defaultStateDir } from "./gateway/device-identity.js";
export { decodeSetupCode, type PairOptions, type PairResult, pairWithSetupCode, type SetupCode } from "./gateway/pairing.js";
