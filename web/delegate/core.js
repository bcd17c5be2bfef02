// @ts-check
// The delegate view's core: the shared page parts (web/lib/page.js:
// language, log, the API client with its CSRF token, refusals in the
// chosen language, toasts, the busy-button runner).
import { makePage } from "../lib/page.js";
import { S } from "./state.js";
import { showLogin } from "./main.js";

export const { t, log, logLines, api, errorText, toast, act } = makePage({
  name: "delegate",
  state: S,
  onUnauthorized: () => showLogin(),
  // A delegate reads the refusal in Vietnamese only; the server's English
  // detail is for English readers.
  detailInVietnamese: false,
  maxToasts: 3,
});
