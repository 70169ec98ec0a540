export const PLUGIN_ID = "inter-instance";
