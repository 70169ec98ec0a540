// The Instances page in OpenClaw's Control UI (browser code, bundled by scripts/build-plugin.mjs).
// Plain DOM: the page owns its elements, namespaced `iim-`, and talks to the plugin only through
// the feature client (the Gateway's plugins.sessionAction, with the signed-in operator's scopes).
import { type ControlUiViewContext, defineControlUiPlugin } from "openclaw/plugin-sdk/control-ui";
import { createFeatureClient, type FeatureContract } from "openclaw/plugin-sdk/feature-contract";
import { PLUGIN_ID } from "../id.js";
import {
  type ActionResult,
  type DiscoveredView,
  type DiscoveryView,
  INSTANCES_PAGE_ID,
  type InstanceView,
  OPERATIONS,
  type OperationId,
  type Overview,
  UPLOAD_PART,
  type UploadStarted,
} from "./operations.js";
import "./page.css";

/** The browser only needs each operation's kind; the Gateway holds and checks the schemas. */
const contract = {
  pluginId: PLUGIN_ID,
  operations: Object.fromEntries(Object.entries(OPERATIONS).map(([id, op]) => [id, { ...op, input: {}, output: {} }])),
  events: {},
} as unknown as FeatureContract;

const REFRESH_MS = 15_000;

type Child = Node | string | undefined | false;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) if (child !== undefined && child !== false) node.append(child);
  return node;
}

const badge = (state: string, text = state) => el("span", { class: `iim-badge iim-${state}` }, text);
const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : "never");

function instanceCard(instance: InstanceView): HTMLElement {
  const route = instance.route
    ? el("p", { class: "iim-route" }, "A message goes by ", el("strong", {}, instance.route), " now.")
    : el("p", { class: "iim-route iim-fail" }, "No transport is open: a message would wait in the outbox.");
  const rows = instance.transports.map((t) =>
    el(
      "li",
      { class: "iim-transport", "data-transport": t.id },
      el("span", { class: "iim-name" }, t.id),
      badge(t.state === "pass" ? "ok" : t.state === "fail" ? "failing" : t.state, t.state === "pass" ? "ok" : t.state === "fail" ? "failing" : t.state),
      el("span", { class: "iim-summary" }, t.summary),
      t.skippedNow && el("span", { class: "iim-note" }, ` (${t.skippedNow})`),
      t.fix && el("div", { class: "iim-fix" }, "Fix: ", t.fix),
    ),
  );
  const check = (c: InstanceView["otherChecks"][number]) =>
    el(
      "li",
      { class: "iim-check" },
      badge(c.state === "fail" ? "failing" : c.state),
      el("span", { class: "iim-summary" }, `${c.check}: ${c.summary}`),
      c.fix && el("div", { class: "iim-fix" }, "Fix: ", c.fix),
    );
  const failing = instance.otherChecks.filter((c) => c.state === "fail");
  const warnings = instance.otherChecks.filter((c) => c.state !== "fail");
  return el(
    "article",
    { class: "iim-instance", "data-instance": instance.name, "aria-label": `Instance ${instance.displayName}` },
    el("h3", {}, instance.displayName, instance.aliases.length > 0 && el("span", { class: "iim-aliases" }, ` (${instance.aliases.join(", ")})`)),
    route,
    el("ul", { class: "iim-transports", "aria-label": `Transports of ${instance.displayName}` }, ...rows),
    failing.length > 0 && el("ul", { class: "iim-checks" }, ...failing.map(check)),
    warnings.length > 0 &&
      el(
        "details",
        { class: "iim-warnings" },
        el("summary", {}, `${warnings.length} warning${warnings.length === 1 ? "" : "s"}`),
        el("ul", { class: "iim-checks" }, ...warnings.map(check)),
      ),
    el("p", { class: "iim-muted" }, `Last checked: ${when(instance.checkedAt)}`),
  );
}

function table(caption: string, headers: readonly string[], rows: readonly (readonly Child[])[], empty: string): HTMLElement {
  if (rows.length === 0) return el("p", { class: "iim-muted" }, empty);
  return el(
    "table",
    { class: "iim-table", "aria-label": caption },
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((cell) => el("td", {}, cell))))),
  );
}

type Invoke = <T>(operation: OperationId, input: Record<string, unknown>) => Promise<T>;
type Say = (result: ActionResult) => void;
/** A button that runs one operation, says its result and refreshes the page. */
type Act = (label: string, operation: OperationId, input: Record<string, unknown>, name?: string) => HTMLButtonElement;

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The page's frame: a header with the check button and the status line, and the body the overview fills. */
function pageFrame() {
  const status = el("output", { class: "iim-status", "aria-live": "polite" });
  const body = el("div", { class: "iim-body" });
  const checkButton = el("button", { type: "button" }, "Check now");
  const root = el("section", { class: "iim-page" }, el("header", { class: "iim-header" }, el("h1", {}, "Instances"), checkButton, status), body);
  const say: Say = (result) => {
    status.textContent = result.text;
    status.className = `iim-status ${result.ok ? "iim-ok" : "iim-failing"}`;
  };
  /** Progress, neither good nor bad yet. */
  const note = (text: string) => {
    status.textContent = text;
    status.className = "iim-status";
  };
  return { root, status, body, checkButton, say, note };
}

/** A button disabled while what it runs runs. */
function button(label: string, run: () => Promise<void>, name?: string): HTMLButtonElement {
  const b = el("button", { type: "button", ...(name ? { "aria-label": name } : {}) }, label);
  b.addEventListener("click", () => {
    b.disabled = true;
    void run().finally(() => (b.disabled = false));
  });
  return b;
}

/** Most files one message from the page carries (as instance_send; the Gateway's config may allow fewer). */
const MAX_FILES = 16;
/** A media type the message may list; the browser's guess is left out when it is not one (the name then says it). */
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/u;

function base64Of(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(binary);
}

/**
 * Uploads the chosen files to the plugin in parts (OpenClaw takes at most 256 KiB of JSON per call)
 * and returns the upload's id for `send`; the plugin checks the bounds. On a failure the upload is
 * dropped and the error thrown.
 */
async function uploadFiles(invoke: Invoke, files: readonly File[], note: (text: string) => void): Promise<string> {
  const announced = files.map((file) => {
    const mime = file.type.toLowerCase();
    return { name: file.name, size: file.size, ...(MEDIA_TYPE.test(mime) ? { mime } : {}) };
  });
  const begun = await invoke<UploadStarted>("upload.begin", { files: announced });
  if (!begun.ok || !begun.upload) throw new Error(begun.text);
  const upload = begun.upload;
  try {
    for (const [index, file] of files.entries()) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      if (bytes.byteLength !== file.size) throw new Error(`${file.name} changed while it was read; choose it again.`);
      const partBytes = UPLOAD_PART.stringBytes * UPLOAD_PART.strings;
      for (let offset = 0; offset < bytes.byteLength; offset += partBytes) {
        note(`Uploading ${file.name} (${index + 1} of ${files.length}): ${Math.floor((offset * 100) / bytes.byteLength)}%…`);
        const part = bytes.subarray(offset, offset + partBytes);
        const data: string[] = [];
        for (let at = 0; at < part.byteLength; at += UPLOAD_PART.stringBytes) data.push(base64Of(part.subarray(at, at + UPLOAD_PART.stringBytes)));
        const result = await invoke<ActionResult>("upload.part", { upload, file: index, offset, data });
        if (!result.ok) throw new Error(result.text);
      }
    }
  } catch (error) {
    void invoke("upload.discard", { upload }).catch(() => undefined);
    throw error;
  }
  return upload;
}

/**
 * The send form, with files to send along. It lives across refreshes, so what someone is typing (and
 * the files chosen) stays; only its targets follow the config.
 */
function sendForm(invoke: Invoke, say: Say, note: (text: string) => void, refresh: () => Promise<void>) {
  const sendTo = el("select", { "aria-label": "Send to" });
  const message = el("textarea", { "aria-label": "Message", rows: "3", placeholder: "What the other agent should read" });
  const fileInput = el("input", { type: "file", multiple: "", "aria-label": "Files" });
  const sendButton = el("button", { type: "submit" }, "Send");
  const form = el("form", { class: "iim-send", "aria-label": "Send a message" }, sendTo, message, fileInput, sendButton);
  const send = async () => {
    const files = [...(fileInput.files ?? [])];
    if (files.length > MAX_FILES) return say({ ok: false, text: `Choose at most ${MAX_FILES} files for one message; send the rest in another.` });
    const upload = files.length > 0 ? await uploadFiles(invoke, files, note) : undefined;
    if (files.length > 0) note(`Sending the message with ${files.length} file(s)…`);
    const result = await invoke<ActionResult>("send", { to: sendTo.value, message: message.value, ...(upload ? { upload } : {}) });
    say(result);
    // Delivered, or queued in the outbox: either way it is on its way, files and all.
    if (result.ok || result.queued) {
      message.value = "";
      fileInput.value = "";
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!message.value.trim()) return say({ ok: false, text: "Write a message first." });
    sendButton.disabled = true;
    void send()
      .catch((error: unknown) => say({ ok: false, text: errorText(error) }))
      .finally(() => {
        sendButton.disabled = false;
        void refresh();
      });
  });
  const updateTargets = (overview: Overview) => {
    const names = [...overview.instances.map((i) => i.name), "all"];
    if (names.join("\n") === [...sendTo.options].map((o) => o.value).join("\n")) return;
    const selected = sendTo.value;
    sendTo.replaceChildren(
      ...overview.instances.map((i) => el("option", { value: i.name }, i.displayName)),
      el("option", { value: "all" }, "all (every instance)"),
    );
    if (names.includes(selected)) sendTo.value = selected;
  };
  return { form, updateTargets };
}

const outboxTable = (overview: Overview, act: Act) =>
  table(
    "Outbox",
    ["message", "to", "attempts", "last error", "next try", ""],
    overview.outbox.map((w) => [w.id, w.to, String(w.attempts), w.lastError, when(w.nextAttemptAt), act("Drop", "outbox.drop", { id: w.id }, `Drop ${w.id}`)]),
    "Nothing waits in the outbox.",
  );

const deadLetterTable = (overview: Overview, act: Act) =>
  table(
    "Dead letters",
    ["seq", "message", "from", "why", ""],
    overview.deadLetters.map((d) => [String(d.seq), d.id, d.from, d.reason, act("Replay", "deadletters.replay", { seq: d.seq }, `Replay ${d.seq}`)]),
    "No dead letters.",
  );

const heldTable = (overview: Overview, act: Act) =>
  table(
    "Held messages",
    ["message", "from", "via", "verdict", "why held", "received", ""],
    overview.held.map((h) => [
      h.id,
      h.from,
      h.transport,
      h.verdict,
      h.reason,
      when(h.receivedAt),
      el("span", {}, act("Approve", "held.approve", { id: h.id }, `Approve ${h.id}`), act("Refuse", "held.refuse", { id: h.id }, `Refuse ${h.id}`)),
    ]),
    "No incoming message is held for you.",
  );

const recentTable = (overview: Overview) =>
  table(
    "Recent deliveries",
    ["when", "", "message", "from → to", "via", "status", "signature"],
    overview.recent.map((r) => [when(r.at), r.direction === "out" ? "sent" : "shown", r.id, `${r.from} → ${r.to}`, r.transport, r.status, r.verdict]),
    "Nothing sent or received yet.",
  );

const latencyTable = (overview: Overview) =>
  table(
    "Delivery latency",
    ["transport", "deliveries", "p50", "p95"],
    (overview.latency ?? []).map((l) => [l.transport, String(l.count), `${l.p50Ms} ms`, `${l.p95Ms} ms`]),
    "Nothing sent from this Gateway since it started.",
  );

/** How long Find Gateways listens. */
const DISCOVER_SECONDS = 3;

const PIN_WORDS: Record<NonNullable<DiscoveredView["configured"]>["pin"], string> = {
  match: "matches the pin",
  mismatch: "DIFFERS FROM THE PIN: a possible impersonation; the pin stays",
  "no-pin": "no pin stored",
  "not-advertised": "no fingerprint advertised",
};

const discoveredRow = (g: DiscoveredView): Child[] => [
  g.displayName,
  g.address ?? "(no address record)",
  String(g.port),
  g.tls ? "yes" : "no",
  g.fingerprint ?? "(none)",
  g.foundWhere,
  g.configured ? `configured as ${g.configured.instance}; ${PIN_WORDS[g.configured.pin]}` : "not configured here",
  g.addCommand ? el("code", {}, g.addCommand) : "",
];

/** What Find Gateways found: a table, each Gateway's warnings, and what was ignored; never a way to pin. */
function discoveryResult(view: DiscoveryView): Node[] {
  if (view.gateways.length === 0) return [el("p", { class: "iim-muted" }, view.text)];
  const warnings = view.gateways.flatMap((g) => g.warnings.filter((w) => w.startsWith("WARNING")).map((w) => `${g.displayName} (${g.foundWhere}): ${w}`));
  return [
    table("Gateways found", ["name", "address", "port", "TLS", "advertised fingerprint", "found", "here", "to add it"], view.gateways.map(discoveredRow), ""),
    ...warnings.map((w) => el("p", { class: "iim-problem", role: "alert" }, w)),
    ...view.ignored.map((i) => el("p", { class: "iim-muted" }, `Ignored${i.from ? ` ${i.from}` : ""}: ${i.problem}.`)),
    ...view.failed.map((f) => el("p", { class: "iim-muted" }, `Could not look ${f.source === "lan" ? "on the LAN" : `in ${f.source}`}: ${f.problem}`)),
    el(
      "p",
      { class: "iim-muted" },
      "Beacons are unauthenticated: nothing is pinned from this page. The command asks you to compare the fingerprint with the one on that machine.",
    ),
  ];
}

/** The Find Gateways section: it lives across refreshes, like the send form. */
function discoverSection(invoke: Invoke) {
  const result = el("div", { class: "iim-discover-result", "aria-live": "polite" });
  const find = button("Find Gateways", async () => {
    result.replaceChildren(el("p", { class: "iim-muted" }, `Listening ${DISCOVER_SECONDS} s for Gateways…`));
    try {
      result.replaceChildren(...discoveryResult(await invoke<DiscoveryView>("discover", { timeoutSeconds: DISCOVER_SECONDS })));
    } catch (error) {
      result.replaceChildren(el("p", { class: "iim-problem", role: "alert" }, `Could not look for Gateways: ${errorText(error)}`));
    }
  });
  return el(
    "section",
    { class: "iim-discover", "aria-label": "Find Gateways" },
    el("h2", {}, "Other Gateways nearby ", find),
    el("p", { class: "iim-muted" }, "OpenClaw Gateways that announce themselves on this LAN or in the configured wide-area DNS-SD domains."),
    result,
  );
}

/** What one overview shows above the send form: this Gateway and the instances, or the problem that kept it from loading. */
function overviewHead(overview: Overview): Node[] {
  if (overview.problem) return [el("p", { class: "iim-problem", role: "alert" }, overview.problem)];
  return [
    el("p", { class: "iim-muted" }, `This Gateway is ${overview.self}. Updated ${when(overview.at)}.`),
    el("div", { class: "iim-instances" }, ...overview.instances.map(instanceCard)),
  ];
}

/** What one overview shows below the send form: the outbox, dead letters, held messages, recent deliveries and latency. */
function overviewTail(overview: Overview, act: Act): Node[] {
  if (overview.problem) return [];
  return [
    el("h2", {}, "Outbox ", overview.outbox.length > 0 && act("Retry all now", "outbox.retry", {})),
    ...(overview.oldestWaitingSeconds === undefined
      ? []
      : [el("p", { class: "iim-muted" }, `The oldest message has waited ${overview.oldestWaitingSeconds} s.`)]),
    outboxTable(overview, act),
    el("h2", {}, "Dead letters"),
    deadLetterTable(overview, act),
    el("h2", {}, "Held for you"),
    heldTable(overview, act),
    el("h2", {}, "Recent deliveries"),
    recentTable(overview),
    el("h2", {}, "Delivery latency"),
    latencyTable(overview),
  ];
}

/**
 * Loads the overview into the page: `refresh` on a timer and after every action (at most one at a
 * time), the check button for a fresh doctor run.
 */
function overviewLoader(invoke: Invoke, signal: AbortSignal, frame: ReturnType<typeof pageFrame>, render: (overview: Overview) => void) {
  const { status, say, checkButton } = frame;
  let checkedOnce = false;
  let busy = false;
  const load = async (operation: "overview" | "check") => {
    const overview = await invoke<Overview>(operation, {});
    if (!signal.aborted) render(overview);
    return overview;
  };
  const failedToLoad = (error: unknown) => {
    if (!signal.aborted) say({ ok: false, text: `Could not load the instances: ${errorText(error)}` });
  };
  const check = async () => {
    frame.note("Checking every transport…");
    await load("check").then(() => (status.textContent = ""), failedToLoad);
  };
  const refresh = async () => {
    if (busy) return;
    busy = true;
    try {
      const overview = await load("overview");
      // The first visit checks what was never checked: the page then shows each path's state and fix.
      if (!checkedOnce && overview.instances.some((i) => i.checkedAt === undefined)) {
        checkedOnce = true;
        await check();
      }
    } catch (error) {
      failedToLoad(error);
    } finally {
      busy = false;
    }
  };
  checkButton.addEventListener("click", () => {
    if (busy) return;
    busy = checkButton.disabled = true;
    void check().finally(() => (busy = checkButton.disabled = false));
  });
  return { refresh };
}

function mountInstancesPage(container: HTMLElement, context: ControlUiViewContext) {
  const feature = createFeatureClient(contract, context.host);
  const invoke: Invoke = <T>(operation: OperationId, input: Record<string, unknown>) => feature.invoke(operation, input as never) as Promise<T>;
  const frame = pageFrame();
  container.append(frame.root);
  let presented = context.presented;
  const refresh = () => loader.refresh();
  const act: Act = (label, operation, input, name) =>
    button(
      label,
      async () => {
        try {
          frame.say(await invoke<ActionResult>(operation, input));
        } catch (error) {
          frame.say({ ok: false, text: errorText(error) });
        }
        await refresh();
      },
      name,
    );
  const send = sendForm(invoke, frame.say, frame.note, refresh);
  frame.root.append(discoverSection(invoke));
  // The send form stays where it is: a refresh that moved it took the focus, and the keys typed next,
  // from whoever was writing (a CI run caught a message typed into the page arriving empty).
  const head = el("div", {}, el("p", { class: "iim-muted" }, "Loading…"));
  const sendSection = el("div", { hidden: "" }, el("h2", {}, "Send a message"), send.form);
  const tail = el("div");
  frame.body.replaceChildren(head, sendSection, tail);
  const render = (overview: Overview) => {
    send.updateTargets(overview);
    head.replaceChildren(...overviewHead(overview));
    tail.replaceChildren(...overviewTail(overview, act));
    sendSection.hidden = overview.problem !== undefined;
  };
  const loader = overviewLoader(invoke, context.signal, frame, render);
  const timer = setInterval(() => presented && void refresh(), REFRESH_MS);
  void refresh();
  return {
    update: (next: ControlUiViewContext) => {
      presented = next.presented;
    },
    dispose: () => {
      clearInterval(timer);
      frame.root.remove();
    },
  };
}

export default defineControlUiPlugin({
  id: PLUGIN_ID,
  activate(host) {
    host.ui.registerNavigation({ id: INSTANCES_PAGE_ID, label: "Instances", page: { id: INSTANCES_PAGE_ID }, icon: "users" });
    host.ui.registerPage({ id: INSTANCES_PAGE_ID, label: "Instances", mount: mountInstancesPage });
  },
});
