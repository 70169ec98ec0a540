import { type FSWatcher, watch } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { MemoryEntry } from "../transports/memory-file/entry.js";
import { incomingDir } from "../transports/nodes/incoming.js";
import { mergeIncoming } from "./incoming-merge.js";
import { InboxLedger, type InboxState } from "./ledger.js";
import { MemoryScanner } from "./scanner.js";

export interface InboxWatcherOptions {
  readonly workspace: string;
  readonly sessionKey: string;
  /** For the daily note that envelopes dropped by a node go into (default: this machine's zone). */
  readonly timeZone?: string;
  /**
   * Hands one new entry to the agent: resolves `surfaced` once it is queued there, `held` or
   * `refused` when the inbound policy keeps it from the agent, false to retry on the next scan.
   */
  readonly surface: (entry: MemoryEntry) => Promise<Exclude<InboxState, "seen"> | false>;
  /**
   * Queue again, after a restart, entries surfaced but never seen (the host keeps pending
   * injections only in memory). Only safe when "seen" receipts are recorded; otherwise a restart
   * would show every old message again.
   */
  readonly resurfaceUnseen?: boolean;
  /** Polling complements fs.watch, which misses events on some file systems (network mounts). */
  readonly pollMs?: number;
  /** While entries wait for the host to take them (no session yet, its queue full): scan again this soon. */
  readonly retryMs?: number;
  readonly onError?: (error: unknown) => void;
}

/**
 * The receiving side of the memory-file transport: notices entries appended to the daily notes,
 * surfaces each envelope id once (across restarts, via the ledger), and records receipts.
 */
export class InboxWatcher {
  readonly ledger: InboxLedger;
  readonly #options: InboxWatcherOptions;
  readonly #scanner: MemoryScanner;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Armed only while entries wait in #retry. */
  #retryTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  /** Ids queued by this process: a pending injection is not queued twice. */
  readonly #surfacedHere = new Set<string>();
  /** Entries the host could not take yet; the scanner returns each entry once, so they wait here. */
  readonly #retry = new Map<string, MemoryEntry>();

  constructor(options: InboxWatcherOptions) {
    this.#options = options;
    this.ledger = new InboxLedger(options.workspace);
    this.#scanner = new MemoryScanner(options.workspace);
  }

  async start(): Promise<void> {
    await this.ledger.load();
    const memoryDir = join(this.#options.workspace, "memory");
    await mkdir(memoryDir, { recursive: true });
    await this.ledger.announce({ since: new Date().toISOString(), sessionKey: this.#options.sessionKey });
    const incoming = incomingDir(this.#options.workspace);
    await mkdir(incoming, { recursive: true });
    // File events do the work; the poll is only a safety net, so an idle inbox costs nothing.
    for (const dir of [memoryDir, incoming]) {
      const watcher = watch(dir, () => void this.check());
      watcher.on("error", (error) => this.#options.onError?.(error));
      this.#watchers.push(watcher);
    }
    this.#timer = setInterval(() => void this.check(), this.#options.pollMs ?? 30_000);
    this.#timer.unref();
    await this.check();
  }

  /** Scans now; calls that arrive during a scan fold into one more scan after it. */
  check(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        // Drops from a node first, so the scan below finds them in the note.
        await mergeIncoming(this.#options.workspace, this.#options.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone).catch((error: unknown) =>
          this.#options.onError?.(error),
        );
        try {
          for (const entry of [...this.#retry.values(), ...(await this.#scanner.scan())]) {
            const state = this.ledger.state(entry.id);
            // Held ones wait for the owner (who delivers them from the held store), refused ones are done.
            if (
              state === "seen" ||
              state === "held" ||
              state === "refused" ||
              this.#surfacedHere.has(entry.id) ||
              (state === "surfaced" && !this.#options.resurfaceUnseen)
            )
              continue;
            const outcome = await this.#options.surface(entry);
            if (!outcome) {
              this.#retry.set(entry.id, entry);
              continue;
            }
            this.#retry.delete(entry.id);
            this.#surfacedHere.add(entry.id);
            await this.ledger.record(entry.id, outcome, entry.from);
          }
        } catch (error) {
          this.#options.onError?.(error);
        }
      } while (this.#again);
    })().finally(() => {
      this.#running = undefined;
      this.#armRetry();
    });
    return this.#running;
  }

  #armRetry(): void {
    if (this.#retry.size === 0 || this.#retryTimer || this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.check();
    }, this.#options.retryMs ?? 5_000);
    this.#retryTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    for (const watcher of this.#watchers.splice(0)) watcher.close();
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }
}
