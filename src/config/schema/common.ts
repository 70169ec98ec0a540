import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";
import { TRANSPORT_IDS } from "./transport-defaults.js";

export const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/u;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/u;
const SESSION_KEY = /^agent:[^:\s]+:\S+$/u;

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export const sessionKeySchema = () => zod().string().regex(SESSION_KEY, 'must look like "agent:<agentId>:<rest>"');

export const timeZoneSchema = () => zod().string().refine(isTimeZone, "must be an IANA time zone such as Asia/Shanghai");

export const envNameSchema = () => zod().string().regex(ENV_NAME, "must be an environment variable name");

export const transportIdSchema = once(() => zod().enum(TRANSPORT_IDS));

export const transportListSchema = () => zod().array(transportIdSchema()).min(1);

export const timeoutsSchema = once(() => zod().partialRecord(transportIdSchema(), zod().number().int().positive().max(3_600_000)));
