import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";

// The SDK does not export its hook handler map; `api.on` instantiated with one name gives its handler.
declare const on: OpenClawPluginApi["on"];

export type HookName = Parameters<OpenClawPluginApi["on"]>[0];
export type HookHandler<K extends HookName> = Parameters<typeof on<K>>[1];

/** One hook, as `api.on` takes it: the plugin registers a list of them. */
export interface PluginHook<K extends HookName = HookName> {
  readonly name: K;
  readonly handler: HookHandler<K>;
}
