import { afterAll, expect } from "vitest";
import { secretLeaks } from "./secrets-watch.js";

// A setup file: after each test file, no credential the harness handed out may appear in any log
// line or CLI output that file produced.
afterAll(() => {
  expect(secretLeaks()).toEqual([]);
});
