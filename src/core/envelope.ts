import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { toValidationError } from "../config/parse.js";
import { once } from "../util/lazy.js";
import { type ZodApi, zod } from "../util/zod.js";
import { type FileMeta, fileListSchema } from "./attachments/file-list.js";

/** Largest body accepted, in UTF-8 bytes. Gateway frames allow 25 MiB; a chat turn far less is sensible. */
export const MAX_BODY_BYTES = 1024 * 1024;

const NO_CONTROL_CHARS = /^[^\p{Cc}]*$/u;
const ENVELOPE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/u;

function buildEnvelopeSchema(z: ZodApi) {
  return z
    .object({
      /** Idempotency key: the same id is shown at most once on the receiving side. */
      id: z.string().regex(ENVELOPE_ID, "must be 8–128 characters of letters, digits, . _ : -"),
      kind: z.literal("message"),
      from: z.string().trim().min(1).max(64).regex(NO_CONTROL_CHARS, "must not contain control characters"),
      to: z.string().trim().min(1).max(64).regex(NO_CONTROL_CHARS, "must not contain control characters"),
      body: z
        .string()
        .min(1, "must not be empty")
        .refine((body) => body.isWellFormed(), "must be well-formed Unicode (no lone surrogates)")
        .refine((body) => Buffer.byteLength(body, "utf8") <= MAX_BODY_BYTES, `must be at most ${MAX_BODY_BYTES} bytes of UTF-8`),
      createdAt: z.iso.datetime(),
      /**
       * Set when a target lost a copy it had accepted (a Gateway restart interrupts queued input, which
       * then never runs): the nth redelivery needs a fresh Gateway idempotency key.
       */
      redelivery: z.number().int().min(1).max(1000).optional(),
      /**
       * The conversation this message belongs to (the id of the message that started it) and its
       * place in it: a message an agent sends while handling another continues that one's conversation
       * at the next hop. Loop limits count hops per conversation.
       */
      conversation: z.string().regex(ENVELOPE_ID, "must be an envelope id").optional(),
      hop: z.number().int().min(1).max(1000).optional(),
      /** The envelope this one answers (a reply to a question or a delegated task). */
      replyTo: z.string().regex(ENVELOPE_ID, "must be an envelope id").optional(),
      /** A delegated task: the sender waits for an answer (a reply with `replyTo`, or the agent's answer in its session). */
      task: z.literal(true).optional(),
      /** Files the message carries: listed (and signed) here, their bytes carried beside the envelope. Built when a message has some. */
      files: z.lazy(fileListSchema).optional(),
      /** The sender's Ed25519 signature over the fields above (see `src/trust/signature.ts`), base64url. */
      signature: z
        .string()
        .regex(/^[A-Za-z0-9_-]{86}$/u, "must be an Ed25519 signature, 86 characters of base64url")
        .optional(),
    })
    .strict();
}

/** The envelope schema, built on first use (see `zod()`). */
export const envelopeSchema = once(() => buildEnvelopeSchema(zod()));

export type Envelope = Readonly<z.output<ReturnType<typeof buildEnvelopeSchema>>>;

export interface EnvelopeInput {
  readonly to: string;
  readonly body: string;
  readonly from: string;
  readonly id?: string | undefined;
  readonly createdAt?: Date | undefined;
  /** Continue this conversation (see `Envelope.conversation`); with `hop`, this message's place in it. */
  readonly conversation?: string | undefined;
  readonly hop?: number | undefined;
  readonly replyTo?: string | undefined;
  readonly task?: boolean | undefined;
  /** The files it carries, already named safely and digested (see `prepareFiles`). */
  readonly files?: readonly FileMeta[] | undefined;
}

/** Builds and validates an envelope; throws `ValidationError` naming the bad field. */
export function createEnvelope(input: EnvelopeInput): Envelope {
  const candidate = {
    id: input.id ?? randomUUID(),
    kind: "message" as const,
    from: input.from,
    to: input.to,
    body: input.body,
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    ...(input.conversation !== undefined ? { conversation: input.conversation } : {}),
    ...(input.hop !== undefined ? { hop: input.hop } : {}),
    ...(input.replyTo !== undefined ? { replyTo: input.replyTo } : {}),
    ...(input.task ? { task: true as const } : {}),
    ...(input.files && input.files.length > 0 ? { files: input.files.map(({ name, size, sha256, mime }) => ({ name, size, sha256, mime })) } : {}),
  };
  const result = envelopeSchema().safeParse(candidate);
  if (!result.success) throw toValidationError("message", result.error);
  return result.data;
}
