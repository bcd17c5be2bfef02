// @ts-check
// diemcau – the landing page: the English switch, the room form (a room
// that has its meeting code and token but not the link), and the local
// CA's section hidden when the server uses the province's own CA.
import { $ } from "./lib/dom.js";
import { dictionary, saveLang, storedLang, translate } from "./lib/i18n.js";

const DICT = dictionary("landing");

let lang = storedLang();
const t = (/** @type {string} */ key) => translate(DICT, lang, key);

function applyText() {
  document.documentElement.lang = lang;
  document.title = t("app_title");
  for (const e of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-i18n]"))) e.textContent = t(e.dataset.i18n);
  $("btn-lang").textContent = t("lang_switch");
}

$("btn-lang").hidden = false;
$("btn-lang").addEventListener("click", () => {
  lang = lang === "vi" ? "en" : "vi";
  saveLang(lang);
  applyText();
});

// The room page takes the token from the link and removes it from the
// address bar at once, as it does for the links the operator sends.
$("room-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const meeting = $("room-meeting").value.trim();
  const token = $("room-token").value.trim();
  if (!meeting || !token) {
    $("room-error").textContent = t("room_missing");
    $("room-error").hidden = false;
    return;
  }
  location.assign(`/room/${encodeURIComponent(meeting)}?token=${encodeURIComponent(token)}`);
});

// A server with the province's own certificate has no local CA to offer.
fetch("/ca.pem", { method: "HEAD" })
  .then((r) => {
    if (r.status === 404) $("ca").hidden = true;
  })
  .catch(() => {});

applyText();
