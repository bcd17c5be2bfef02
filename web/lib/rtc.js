// @ts-check
// The WebRTC join the room page and the console's thumbnails share: one
// peer connection (no ICE servers: the server is ICE-lite on the local
// network; one bundle, RTCP muxed), an offer sent as soon as it is made,
// and the signalling socket `/ws` that carries `join`.

/** @returns {RTCPeerConnection} */
export function newPeerConnection() {
  return new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
}

/**
 * Create the offer and set it: the SDP to send in `join`, at once.
 *
 * Why not wait for our ICE candidates: the server is ICE-lite, so it never
 * sends a check to them; it learns our address from the first check this
 * browser sends to the candidates in its answer (over UDP, or TCP for
 * ICE-TCP). Waiting for gathering only delayed the join — 121 ms of a
 * Chromium join's signalling against 53 ms to Janus (BENCHMARKS §18).
 * @param {RTCPeerConnection} pc with its transceivers added
 * @returns {Promise<string>}
 */
export async function offerNow(pc) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  return pc.localDescription ? pc.localDescription.sdp : offer.sdp || "";
}

/** @returns {string} the signalling socket's URL, on this page's host */
export function signallingUrl() {
  return (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/ws";
}
