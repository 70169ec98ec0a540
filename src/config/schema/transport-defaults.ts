// The transport ids, default order and timeouts come from the list of built-in transports.
export { DEFAULT_TIMEOUTS_MS, DEFAULT_TRANSPORT_ORDER, TRANSPORT_IDS, type TransportId } from "../../transports/built-in.js";
