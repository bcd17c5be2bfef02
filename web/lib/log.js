// @ts-check
// A page's log: the console, plus the last 300 lines kept for tests and
// for a technician's screenshot.

/** Lines kept: enough for a test failure's story, small enough to print. */
const KEPT_LINES = 300;

/** @returns {{log: (...args: any[]) => void, lines: string[]}} */
export function makeLog() {
  /** @type {string[]} */
  const lines = [];
  /** @param {...any} args */
  function log(...args) {
    const line = new Date().toISOString().slice(11, 23) + " " + args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
    lines.push(line);
    if (lines.length > KEPT_LINES) lines.shift();
    console.log("[diemcau]", ...args);
  }
  return { log, lines };
}
