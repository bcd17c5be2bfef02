// @ts-check
// Every English text of the pages, one module per page.
import console from "./en/console.js";
import portal from "./en/portal.js";
import delegate from "./en/delegate.js";
import room from "./en/room.js";
import landing from "./en/landing.js";
import signatures from "./en/signatures.js";

export default { console, portal, delegate, room, landing, signatures };
