import { lazyRequire } from "./lazy.js";

/** write-file-atomic, required on the first write rather than at import (it patches in an exit handler). */
export const writeFileAtomic = lazyRequire<typeof import("write-file-atomic")>("write-file-atomic");
