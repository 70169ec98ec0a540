// The config schema lives in parts under schema/; this path stays the import of everyone who uses it.
export * from "./schema/index.js";
