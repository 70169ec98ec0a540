import type { ObjectInfo, ObjectStore } from "@nats-io/obj";
import type { FileMeta } from "../../core/attachments/file-list.js";
import type { FileSource } from "../../core/attachments/held-files.js";
import { checkIncomingFile, writeIncomingFile } from "../../core/attachments/incoming-files.js";
import type { Envelope } from "../../core/envelope.js";
import { FatalError, UnavailableError } from "../../core/errors.js";
import { receiptKey } from "./fleet.js";

/** Chunks of 1 MiB (the client clamps them to the servers' max_payload): 5 round trips for 5 MB, not 40 of its default 128 KiB. */
export const OBJECT_CHUNK_BYTES = 1024 * 1024;

/**
 * One object per file of one message: `<envelope id as base64url>.<sha256>`. Named by the envelope,
 * not by the digest alone, so the receipt of one message removes its objects and never those of
 * another message still waiting with the same bytes.
 */
export function objectName(envelopeId: string, sha256: string): string {
  return `${receiptKey(envelopeId)}.${sha256}`;
}

/** The object store's own digest form of a SHA-256 (`SHA-256=` and padded base64url). */
export function storeDigest(sha256: string): string {
  const base64 = Buffer.from(sha256, "hex").toString("base64url");
  return `SHA-256=${base64}${"=".repeat((4 - (base64.length % 4)) % 4)}`;
}

/** Each distinct file of the envelope once (two names may list the same bytes). */
function distinctFiles(files: readonly FileMeta[]): FileMeta[] {
  return [...new Map(files.map((file) => [file.sha256, file])).values()];
}

function holdsFile(info: ObjectInfo | null, file: FileMeta): boolean {
  return !!info && !info.deleted && !info.options?.link && info.size === file.size && info.digest === storeDigest(file.sha256);
}

/**
 * Puts the envelope's files into the fleet's object store before the envelope itself is published.
 * An object already there whole (a retry of the same envelope) is not sent again. Returns how many
 * bytes went out; `onPut` hears the name of each object this call put.
 */
export async function putMessageFiles(
  store: ObjectStore,
  envelope: Envelope,
  source: FileSource | undefined,
  options: { readonly timeoutMs: number; readonly signal: AbortSignal; readonly onPut?: (name: string) => void },
): Promise<number> {
  if (!envelope.files) return 0;
  if (!source)
    throw new FatalError(`The bytes of this message's files are not at hand for ${envelope.id}.`, {
      code: "INTEGRITY_FAILURE",
      hint: "Send the message again with its files.",
    });
  let sent = 0;
  for (const file of distinctFiles(envelope.files)) {
    options.signal.throwIfAborted();
    const name = objectName(envelope.id, file.sha256);
    if (holdsFile(await store.info(name), file)) continue;
    const bytes = await source(file);
    await store.putBlob({ name, options: { max_chunk_size: OBJECT_CHUNK_BYTES } }, bytes, { timeout: options.timeoutMs });
    options.onPut?.(name);
    sent += bytes.byteLength;
  }
  return sent;
}

const NO_OBJECT = "its object is not in the fleet's object store (removed, or never put)";

/** Reads an object's bytes, stopping as soon as they pass `size`: a stored object cannot make the receiver hold more than the list says. */
async function readAtMost(store: ObjectStore, name: string, size: number): Promise<Uint8Array | string> {
  const result = await store.get(name);
  if (!result) return NO_OBJECT;
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = result.data.getReader();
  for (;;) {
    let read: Awaited<ReturnType<typeof reader.read>>;
    try {
      read = await reader.read();
    } catch (error) {
      // The client's own check of the chunks against the object's digest: no retry mends that.
      if (error instanceof Error && /digests do not match/u.test(error.message)) return "its object's chunks do not match its digest (damaged in the store)";
      throw error;
    }
    const { done, value } = read;
    if (done) break;
    length += value.byteLength;
    if (length > size) {
      await reader.cancel();
      return `its object holds more than the listed ${size} bytes`;
    }
    chunks.push(value);
  }
  const error = await result.error;
  if (error) throw error;
  return Buffer.concat(chunks, length);
}

/** The receiver's bounds on what it fetches (its own `attachments` config). */
export interface FetchLimits {
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
}

/**
 * Fetches each listed file of the envelope from the object store and writes it into the incoming
 * folder, checked against the listed size and SHA-256 (`writeIncomingFile`). Returns, by digest,
 * why a file is not there: no object, an object other than the listed one, over this instance's
 * limits. A broken connection throws (the message is given again later).
 */
export async function fetchMessageFiles(store: ObjectStore, envelope: Envelope, folder: string, limits: FetchLimits): Promise<Map<string, string>> {
  const missing = new Map<string, string>();
  let total = 0;
  for (const file of distinctFiles(envelope.files ?? [])) {
    total += file.size;
    if (file.size > limits.maxFileBytes) {
      missing.set(file.sha256, `it is larger than this instance's attachments.maxFileBytes (${limits.maxFileBytes} bytes); not fetched`);
      continue;
    }
    if (total > limits.maxTotalBytes) {
      missing.set(file.sha256, `the message's files pass this instance's attachments.maxTotalBytes (${limits.maxTotalBytes} bytes); not fetched`);
      continue;
    }
    // Given again (the agent's queue was full): what arrived the first time is not fetched twice.
    if ((await checkIncomingFile(folder, file)).verified) continue;
    const name = objectName(envelope.id, file.sha256);
    const info = await store.info(name);
    if (info && !info.deleted && !holdsFile(info, file)) {
      missing.set(file.sha256, "its object in the fleet's object store is not the listed file (size, digest or a link)");
      continue;
    }
    const bytes = info && !info.deleted ? await readAtMost(store, name, file.size) : NO_OBJECT;
    if (typeof bytes === "string") missing.set(file.sha256, bytes);
    else
      await writeIncomingFile(folder, file, bytes).catch((error: unknown) => {
        // Bytes that are not the listed file, or a link in the folder: said in the frame. A failing disk throws.
        if (!(error instanceof UnavailableError)) throw error;
        missing.set(file.sha256, error.message);
      });
  }
  return missing;
}

/** Removes the envelope's objects (after its receipt): what is gone already is no error. */
export async function removeMessageFiles(store: ObjectStore, envelope: Envelope): Promise<void> {
  for (const file of distinctFiles(envelope.files ?? [])) await store.delete(objectName(envelope.id, file.sha256));
}

/** Removes these objects (what one failed send put): what is gone already is no error. */
export async function removeObjects(store: ObjectStore, names: readonly string[]): Promise<void> {
  for (const name of names) await store.delete(name);
}
