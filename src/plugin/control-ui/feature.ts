import { defineFeatureContract } from "openclaw/plugin-sdk/feature-contract";
import { defineFeaturePlugin } from "openclaw/plugin-sdk/feature-plugin";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import type { TSchema } from "typebox";
import { AuditLog } from "../../audit/audit-log.js";
import { toValidationError } from "../../config/parse.js";
import { auditPath } from "../../config/state-paths.js";
import { MAX_FILE_BYTES_CEILING } from "../../core/attachments/file-list.js";
import type { Messenger } from "../../messenger/create.js";
import { describeReport } from "../../present/report-text.js";
import { zod } from "../../util/zod.js";
import { PLUGIN_ID } from "../id.js";
import type { PluginParts } from "../parts.js";
import { parametersOf, TARGET_ARG } from "../tools/definition.js";
import { SEND_ARGS, sendMessage } from "../tools/instance-send.js";
import { DEFAULT_DISCOVERY_SECONDS, findGateways, MAX_DISCOVERY_SECONDS } from "./discovery-view.js";
import { type ActionResult, type DiscoveryView, OPERATIONS, type OperationId, type Overview, UPLOAD_PART, type UploadStarted } from "./operations.js";
import { buildOverview, describeOverview, type OverviewSources } from "./overview.js";
import { UploadStaging } from "./uploads.js";

const z = zod();
const ID_ARG = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/u, "must be a message id");
const UPLOAD_ARG = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/u, "must be an upload id from upload.begin");
/** One string of a part: whole base64, at most what OpenClaw allows a string of a plugin action's JSON. */
const BASE64_ARG = z
  .string()
  .min(4)
  .max(UPLOAD_PART.stringChars)
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/u, "must be base64 (A-Z, a-z, 0-9, + and /, padded with =)");
/** The page's send: instance_send's arguments, with the files of an upload instead of workspace paths. */
const PAGE_SEND_ARGS = SEND_ARGS.omit({ files: true })
  .extend({ upload: UPLOAD_ARG.optional().describe("The upload (upload.begin) whose files go with the message, all parts received") })
  .strict();

/** Each operation's input: the page's requests are checked against these (JSON Schema by the Gateway, then zod here). */
const INPUTS = {
  overview: z.object({}).strict(),
  check: z.object({ instance: TARGET_ARG.optional() }).strict(),
  send: PAGE_SEND_ARGS,
  "upload.begin": z
    .object({
      files: z
        .array(
          z
            .object({
              name: z.string().min(1).max(1024).describe("The file's name as chosen (made a safe file name when sent)"),
              size: z.number().int().min(0).max(MAX_FILE_BYTES_CEILING),
              mime: z.string().max(255).optional().describe("Its media type as the browser knows it, e.g. image/png"),
            })
            .strict(),
        )
        .min(1)
        .max(16),
    })
    .strict(),
  "upload.part": z
    .object({
      upload: UPLOAD_ARG,
      file: z.number().int().min(0).max(63).describe("Which file of the upload, from 0"),
      offset: z.number().int().min(0).describe("Where in the file these bytes start (the bytes received so far)"),
      data: z.array(BASE64_ARG).min(1).max(UPLOAD_PART.strings).describe("The next bytes, as one to three base64 strings, in order"),
    })
    .strict(),
  "upload.discard": z.object({ upload: UPLOAD_ARG }).strict(),
  "outbox.retry": z.object({}).strict(),
  "outbox.drop": z.object({ id: ID_ARG }).strict(),
  "deadletters.replay": z.object({ seq: z.number().int().positive() }).strict(),
  "held.approve": z.object({ id: ID_ARG }).strict(),
  "held.refuse": z.object({ id: ID_ARG }).strict(),
  discover: z.object({ timeoutSeconds: z.number().int().min(1).max(MAX_DISCOVERY_SECONDS).optional() }).strict(),
} satisfies Record<OperationId, unknown>;

// Outputs are this module's own objects; the Gateway still checks that they are bounded JSON.
const OBJECT_OUTPUT = { type: "object" } as unknown as TSchema;

export const instancesContract = defineFeatureContract({
  pluginId: PLUGIN_ID,
  operations: Object.fromEntries(
    Object.entries(OPERATIONS).map(([id, operation]) => [
      id,
      { ...operation, input: parametersOf(INPUTS[id as OperationId]) as unknown as TSchema, output: OBJECT_OUTPUT },
    ]),
  ) as Record<OperationId, { kind: "query" | "action"; description: string; input: TSchema; output: TSchema }>,
  events: {},
});

export interface InstancesFeatureDeps extends Omit<OverviewSources, "link"> {
  readonly link: () => Promise<Messenger>;
  /** Runs the doctor's checks (all instances, or one) and records them in the book. */
  readonly check: (instance?: string) => Promise<void>;
  readonly decideHeld: (id: string, decision: "approved" | "refused") => Promise<ActionResult>;
  /** Looks for Gateways where the plugin's `discovery` config says; pins nothing. */
  readonly discover: (timeoutMs: number) => Promise<DiscoveryView>;
}

function parse<K extends OperationId>(id: K, input: unknown): ReturnType<(typeof INPUTS)[K]["parse"]> {
  const parsed = INPUTS[id].safeParse(input);
  if (!parsed.success) throw toValidationError(`${id} input`, parsed.error);
  return parsed.data as ReturnType<(typeof INPUTS)[K]["parse"]>;
}

const failed = (error: unknown): ActionResult => ({
  ok: false,
  text: `${error instanceof Error ? error.message : String(error)}${error && typeof error === "object" && "hint" in error && typeof error.hint === "string" ? ` ${error.hint}` : ""}`,
});

async function overviewOf(deps: InstancesFeatureDeps): Promise<Overview> {
  let link: Messenger;
  try {
    link = await deps.link();
  } catch (error) {
    const problem = `The inter-instance plugin cannot start: ${failed(error).text} Fix plugins.entries.inter-instance.config in openclaw.json.`;
    return { self: "?", at: new Date().toISOString(), instances: [], outbox: [], deadLetters: [], recent: [], held: [], problem };
  }
  return buildOverview({ ...deps, link });
}

/** The page's sources, from the plugin's shared parts. */
export function instancesFeatureDeps({ link, checks, health, gate, config, metrics }: PluginParts): InstancesFeatureDeps {
  return {
    link,
    metrics,
    book: checks,
    check: (instance) => health.check(instance),
    discover: (timeoutMs) => findGateways(config(), timeoutMs),
    held: async () => (await gate.held()).list({ pending: true }),
    audit: async () => {
      const log = await AuditLog.open(auditPath(config()));
      try {
        return log.list({ since: new Date(Date.now() - 7 * 86_400_000) });
      } finally {
        log.close();
      }
    },
    decideHeld: async (id, decision) => {
      const result = await (await gate.held()).decide(id, decision);
      if (result.ok)
        return {
          ok: true,
          text: `${decision === "approved" ? "Approved" : "Refused"} ${id} from ${result.message.from}. ${decision === "approved" ? "It goes into the agent's next turn now." : "Its sender's receipt says refused."}`,
        };
      return {
        ok: false,
        text: result.reason === "decided" ? `${id} was already ${result.message?.decision}; nothing changed.` : `No held message has the id ${id}.`,
      };
    },
  };
}

/**
 * The Instances page's backend (session actions, which the page calls through the Gateway with the
 * operator's scopes) and `/instances` in chat, both from OpenClaw's feature-plugin seam.
 */
export function registerInstancesFeature(api: OpenClawPluginApi, deps: InstancesFeatureDeps): void {
  const act = async (work: () => Promise<ActionResult>): Promise<ActionResult> => work().catch(failed);
  const uploads = new UploadStaging();
  const feature = defineFeaturePlugin({
    contract: instancesContract,
    name: "Inter-instance messaging",
    description: "Instances, routes, outbox and held messages of this Gateway's inter-instance plugin.",
    setup: () => ({
      overview: async (input: unknown) => (parse("overview", input), overviewOf(deps)),
      check: async (input: unknown) => {
        const { instance } = parse("check", input);
        await deps.check(instance);
        return overviewOf(deps);
      },
      send: (input: unknown) =>
        act(async () => {
          const { upload, ...args } = parse("send", input);
          const files = upload ? uploads.take(upload, "send input") : [];
          const result = await sendMessage(deps.link, args, async () => files, { what: "send input" });
          const report = result.details.report as { ok?: boolean; status?: string } | undefined;
          return {
            ok: report?.ok === true,
            text: result.content.map((part) => part.text).join("\n"),
            ...(report?.status === "queued" ? { queued: true } : {}),
          };
        }),
      "upload.begin": (input: unknown) =>
        act(async (): Promise<UploadStarted> => {
          const { files } = parse("upload.begin", input);
          const upload = uploads.begin(files, (await deps.link()).registry.attachments);
          return { ok: true, text: `Uploading ${files.length} file(s) to this Gateway…`, upload };
        }),
      "upload.part": (input: unknown) =>
        act(async () => {
          const { upload, file, offset, data } = parse("upload.part", input);
          const received = uploads.append(
            upload,
            file,
            offset,
            data.map((part) => Buffer.from(part, "base64")),
          );
          return { ok: true, text: `${received} bytes of file ${file} are here.` };
        }),
      "upload.discard": (input: unknown) =>
        act(async () => {
          const { upload } = parse("upload.discard", input);
          return uploads.discard(upload) ? { ok: true, text: `Dropped upload ${upload}.` } : { ok: false, text: `No upload ${upload} is open here.` };
        }),
      "outbox.retry": (input: unknown) =>
        act(async () => {
          parse("outbox.retry", input);
          const reports = await (await deps.link()).outbox.flush({ all: true });
          if (reports.length === 0) return { ok: true, text: "Nothing waits in the outbox." };
          return { ok: reports.every((report) => report.ok), text: reports.map(describeReport).join("\n") };
        }),
      "outbox.drop": (input: unknown) =>
        act(async () => {
          const { id } = parse("outbox.drop", input);
          const dropped = await (await deps.link()).outbox.drop(id);
          return dropped
            ? { ok: true, text: `Dropped ${id} from the outbox: it will not be sent.` }
            : { ok: false, text: `No message ${id} waits in the outbox (it may have gone out meanwhile).` };
        }),
      "deadletters.replay": (input: unknown) =>
        act(async () => {
          const { seq } = parse("deadletters.replay", input);
          const fleet = (await deps.link()).fleet;
          if (!fleet) return { ok: false, text: "This instance is on no NATS fleet, so it has no dead letters." };
          const envelope = await fleet.replay(seq);
          return { ok: true, text: `Dead letter ${seq} (${envelope.id} from ${envelope.from}) goes to the agent again.` };
        }),
      "held.approve": (input: unknown) => act(() => deps.decideHeld(parse("held.approve", input).id, "approved")),
      "held.refuse": (input: unknown) => act(() => deps.decideHeld(parse("held.refuse", input).id, "refused")),
      discover: async (input: unknown) => deps.discover((parse("discover", input).timeoutSeconds ?? DEFAULT_DISCOVERY_SECONDS) * 1000),
    }),
    commands: {
      overview: {
        name: "instances",
        description: "List the other OpenClaw instances, the way a message to each goes now, and what waits in the outbox.",
        parse: () => ({}),
        format: (output: unknown) => ({ text: describeOverview(output as Overview) }),
      },
    },
  });
  feature.register(api);
}
