// `openclaw-inter-instance/gateway`: the Gateway connection (OpenClaw's reference client with this
// machine's device identity), pairing from a setup code, and what a Gateway's errors mean.
export { GatewayConnection, GatewayPool, type GatewayConnectionOptions, type RequestOptions } from "./gateway/connection.js";
export { DeviceIdentityStore, defaultStateDir, type DeviceIdentity } from "./gateway/device-identity.js";
export { decodeSetupCode, pairWithSetupCode, type PairOptions, type PairResult, type SetupCode } from "./gateway/pairing.js";
export { classifyGatewayError } from "./gateway/classify.js";
