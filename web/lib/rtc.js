// @ts-check
// The WebRTC join the room page and the console's thumbnails share: one
// peer connection (no ICE servers: the server is ICE-lite on the local
// network; one bundle, RTCP muxed), an offer whose candidates are gathered
// before it is sent (bounded: a dead interface never holds a join
// hostage), and the signalling socket `/ws` that carries `join`.

/** @returns {RTCPeerConnection} */
export function newPeerConnection() {
  return new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
}

/**
 * Resolves when ICE gathering is complete, or after `timeoutMs`.
 * @param {RTCPeerConnection} pc
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
export function waitForGathering(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * Create the offer, set it, gather (bounded): the SDP to send in `join`.
 * @param {RTCPeerConnection} pc with its transceivers added
 * @param {number} gatherTimeoutMs
 * @returns {Promise<string>}
 */
export async function offerWithCandidates(pc, gatherTimeoutMs) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await waitForGathering(pc, gatherTimeoutMs);
  return pc.localDescription ? pc.localDescription.sdp : "";
}

/** @returns {string} the signalling socket's URL, on this page's host */
export function signallingUrl() {
  return (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/ws";
}
