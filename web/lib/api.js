// @ts-check
// The one API client. Every refusal of the server is
// `{"error":{"code","message","field"?}}` with an HTTP status; it surfaces
// here as an `ApiError` the pages word in the chosen language. A request
// that never reached the server is an `ApiError` with status 0 and code
// `network`.

/** An API refusal: HTTP status and the error body's code, message, field. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {string} [field]
   */
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/**
 * The ApiError an answer's body describes.
 * @param {number} status
 * @param {string} text the body
 * @param {string} statusText
 * @returns {ApiError}
 */
export function parseError(status, text, statusText) {
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    json = null;
  }
  const err = (json && json.error) || {};
  return new ApiError(status, err.code || `http_${status}`, err.message || text || statusText, err.field);
}

/**
 * @typedef {object} RequestOptions
 * @property {string | null} [csrf] sent as X-CSRF-Token on every write
 * @property {string} [contentType] given: `body` is sent as it is (a CSV file), not as JSON
 * @property {string} networkMessage the message of a request that never reached the server
 * @property {Record<string, string>} [headers] more headers (a bearer token)
 */

/**
 * One request to the API: the answer's JSON (null for an empty body), or an
 * ApiError.
 * @param {string} method
 * @param {string} path
 * @param {any} body undefined: no body
 * @param {RequestOptions} opts
 * @returns {Promise<any>}
 */
export async function request(method, path, body, opts) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  if (body !== undefined) headers["Content-Type"] = opts.contentType || "application/json";
  if (method !== "GET" && opts.csrf) headers["X-CSRF-Token"] = opts.csrf;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : opts.contentType ? body : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "network", opts.networkMessage);
  }
  const text = await resp.text();
  if (!resp.ok) throw parseError(resp.status, text, resp.statusText);
  try {
    return text ? JSON.parse(text) : null;
  } catch (_) {
    return null;
  }
}
