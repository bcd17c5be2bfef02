// @ts-check
// The shell of the signed-in pages (the console, the portal, the delegate
// view): asks the server who is signed in, routes the page's paths in the
// browser, shows the login form when nobody is (or the session ended),
// signs out, and switches the language. The page supplies its views; the
// shell owns the session.
import { ApiError } from "./api.js";
import { $ } from "./dom.js";
import { saveLang } from "./i18n.js";

/**
 * @typedef {object} ShellPage what the page's core made (web/lib/page.js)
 * @property {(key: string, vars?: Record<string, any>) => string} t
 * @property {(...args: any[]) => void} log
 * @property {(method: string, path: string, body?: any) => Promise<any>} api
 * @property {(e: any) => string} errorText
 * @property {(text: string, kind?: any) => void} toast
 * @property {(button: any, fn: () => Promise<any>) => Promise<any>} act
 */

/**
 * @typedef {object} ShellOptions
 * @property {string} root the page's path ("/portal"): where signing out leads
 * @property {string[]} views the page's views ("view-login" among them), shown one at a time
 * @property {{me: any, csrf: string | null, lang: import("./i18n.js").Lang, meetingsCache: any[]}} state
 * @property {ShellPage} page
 * @property {() => void} open signed in: open the view the path names
 * @property {() => void} forget signed out: nothing of the last user stays (close what is open, empty the lists)
 * @property {() => void} [showUser] the page's parts that depend on who is signed in (the console's menu)
 * @property {(id: string) => void} [onView] a view was shown (the console marks its menu)
 * @property {() => void} [staticText] the page's own static text in the chosen language (beyond `[data-i18n]`)
 * @property {() => void} redraw redraw the open views after a language switch
 */

/**
 * The meeting a path of `root` names (`<root>/meetings/<id>[/<tab>]`), with
 * its tab (the first of `tabs` by default); null for any other path.
 * @param {string} root
 * @param {string[]} tabs
 * @returns {{id: string, tab: string} | null}
 */
export function meetingRoute(root, tabs) {
  const m = location.pathname.match(new RegExp(`^${root}/meetings/([^/]+)(?:/([a-z]+))?/?$`));
  if (!m) return null;
  return { id: decodeURIComponent(m[1]), tab: tabs.includes(m[2]) ? m[2] : tabs[0] };
}

/** @param {ShellOptions} o */
export function makeShell(o) {
  const S = o.state;
  const { t, log, api, errorText, toast, act } = o.page;
  /** @param {string} path */
  function go(path) {
    history.pushState(null, "", path);
    render();
  }

  /** @param {string} id one of the page's views */
  function showOnly(id) {
    for (const v of o.views) $(v).hidden = v !== id;
    if (o.onView) o.onView(id);
    document.body.dataset.view = id;
  }

  async function render() {
    applyStaticText();
    if (!S.me) {
      try {
        const who = await api("GET", "/api/v1/auth/me");
        S.me = who.user;
        S.csrf = who.csrf || null;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) toast(errorText(e), "error");
        showLogin();
        return;
      }
    }
    showUser();
    o.open();
  }

  function showLogin() {
    S.me = null;
    S.csrf = null;
    S.meetingsCache = [];
    o.forget();
    showUser();
    showOnly("view-login");
    $("crumbs").textContent = "";
    setTimeout(() => $("login-name").focus(), 0);
  }

  function showUser() {
    $("who").hidden = !S.me;
    $("btn-logout").hidden = !S.me;
    $("who").textContent = S.me ? S.me.display_name || S.me.login : "";
    if (o.showUser) o.showUser();
  }

  /**
   * The login form's error line, marking the field it is about.
   * @param {string} text
   * @param {HTMLElement} [input]
   */
  function loginError(text, input) {
    $("login-error").textContent = text;
    $("login-error").hidden = false;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("login-name").value.trim();
    const password = $("login-password").value;
    $("login-error").hidden = true;
    for (const i of $("login-form").querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
    if (!name) return loginError(t("login_need_name"), $("login-name"));
    if (!password) return loginError(t("login_need_password"), $("login-password"));
    $("login-submit").disabled = true;
    try {
      const answer = await api("POST", "/api/v1/auth/login", { name, password });
      S.me = answer.user;
      S.csrf = answer.csrf;
      $("login-password").value = "";
      log("logged in", S.me.login);
      render();
    } catch (e) {
      loginError(errorText(e));
    } finally {
      $("login-submit").disabled = false;
    }
  });

  $("btn-logout").addEventListener("click", () =>
    act($("btn-logout"), async () => {
      try {
        await api("POST", "/api/v1/auth/logout", {});
      } finally {
        history.pushState(null, "", o.root);
        showLogin();
      }
    })
  );

  function applyStaticText() {
    document.documentElement.lang = S.lang;
    document.title = t("app_title");
    for (const e of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-i18n]"))) e.textContent = t(e.dataset.i18n);
    $("btn-lang").textContent = t("lang_switch");
    if (o.staticText) o.staticText();
  }

  $("btn-lang").addEventListener("click", () => {
    S.lang = S.lang === "vi" ? "en" : "vi";
    saveLang(S.lang);
    applyStaticText();
    o.redraw();
  });

  window.addEventListener("popstate", () => render());

  return { go, showOnly, showLogin, render };
}
