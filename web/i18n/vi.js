// @ts-check
// Every Vietnamese (the default) text of the pages, one module per page.
import consoleText from "./vi/console.js";
import portal from "./vi/portal.js";
import delegate from "./vi/delegate.js";
import room from "./vi/room.js";
import landing from "./vi/landing.js";
import signatures from "./vi/signatures.js";
import bodies from "./vi/bodies.js";
import trust from "./vi/trust.js";
import readiness from "./vi/readiness.js";
import stream from "./vi/stream.js";

export default { console: consoleText, portal, delegate, room, landing, signatures, bodies, trust, readiness, stream };
