// @ts-check
// Every English text of the pages, one module per page.
import consoleText from "./en/console.js";
import portal from "./en/portal.js";
import delegate from "./en/delegate.js";
import room from "./en/room.js";
import landing from "./en/landing.js";
import signatures from "./en/signatures.js";
import bodies from "./en/bodies.js";
import trust from "./en/trust.js";
import readiness from "./en/readiness.js";
import stream from "./en/stream.js";

export default { console: consoleText, portal, delegate, room, landing, signatures, bodies, trust, readiness, stream };
