// @ts-check
// Every Vietnamese (the default) text of the pages, one module per page.
import console from "./vi/console.js";
import portal from "./vi/portal.js";
import delegate from "./vi/delegate.js";
import room from "./vi/room.js";
import landing from "./vi/landing.js";
import signatures from "./vi/signatures.js";

export default { console, portal, delegate, room, landing, signatures };
