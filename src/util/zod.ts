import type * as Zod from "zod";
import { lazyRequire } from "./lazy.js";

export type ZodApi = typeof Zod.z;

const zodModule = lazyRequire<typeof Zod>("zod");

/**
 * zod, loaded when the first schema is built: its hundred-odd modules cost about 60 ms that a script
 * which only imports the library need not pay. Every schema of the library is built from this one
 * copy (the package's CommonJS build), so they compose with each other.
 */
export function zod(): ZodApi {
  return zodModule().z;
}
