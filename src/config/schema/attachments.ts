import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";

const MIB = 1024 * 1024;

/** Bounds on the files a message carries, on the sending and the receiving side. */
export const attachmentsSchema = once(() => {
  const z = zod();
  return z
    .object({
      maxFileBytes: z
        .number()
        .int()
        .min(1)
        .max(1024 * MIB)
        .default(20 * MIB)
        .meta({ description: "Largest single file a message may carry, in bytes (sent or accepted)." }),
      maxTotalBytes: z
        .number()
        .int()
        .min(1)
        .max(4096 * MIB)
        .default(50 * MIB)
        .meta({ description: "Largest sum of the files of one message, in bytes." }),
      maxFiles: z.number().int().min(1).max(64).default(16).meta({ description: "Most files one message may carry." }),
    })
    .strict()
    .refine((bounds) => bounds.maxTotalBytes >= bounds.maxFileBytes, {
      message: "must be at least maxFileBytes",
      path: ["maxTotalBytes"],
    })
    .meta({ description: "Files in messages: how large and how many, on both sides." });
});
