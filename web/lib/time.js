// @ts-check
// Meetings are planned and shown in Vietnam's time zone (UTC+07:00, no
// daylight saving), whatever the browser's own zone.

/** UTC+07:00 in milliseconds. */
export const VN_OFFSET_MS = 7 * 3600 * 1000;

/**
 * "HH:MM DD/MM/YYYY" in Vietnam's time.
 * @param {number} ms
 * @returns {string}
 */
export function vnTime(ms) {
  const d = new Date(ms + VN_OFFSET_MS);
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${p(d.getUTCHours())}:${p(d.getUTCMinutes())} ${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`;
}

/** @returns {number} today's midnight in Vietnam, as Unix milliseconds */
export function startOfVnToday() {
  const now = Date.now() + VN_OFFSET_MS;
  return now - (now % 86400000) - VN_OFFSET_MS;
}
