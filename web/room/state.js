// @ts-check
// The page's state that more than one view changes (one object: an ES module
// cannot assign another module's binding).
import { RECONNECT_MIN_MS } from "./config.js";

export const S = {
  pc: null,
  recv: { stage: null, speaker: null, audio: [] },
  ws: null,
  lastServerMsgAt: 0,
  pingTimer: null,
  connectTimer: null,
  backoffMs: RECONNECT_MIN_MS,
  disconnectTimer: null,
  reconnectTimer: null,
  generation: 0,
  localStream: null,
};
