import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { MEASURED_S } from "../budgets.ts";

/** Orders test files by their measured wall time, longest first (unknown files after, in Vitest's order). */
export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const seconds = (spec: TestSpecification) => MEASURED_S[relative(spec.project.config.root, spec.moduleId)] ?? 0;
    return ordered
      .map((spec, index) => ({ spec, index }))
      .sort((a, b) => seconds(b.spec) - seconds(a.spec) || a.index - b.index)
      .map(({ spec }) => spec);
  }
}
