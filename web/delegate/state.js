// @ts-check
// The page's state that more than one view changes (one object: an ES module
// cannot assign another module's binding).
import { storedLang } from "../lib/i18n.js";

/** @type {{me: any, csrf: string | null, meetingsCache: any[], lang: import("../lib/i18n.js").Lang}} */
export const S = {
  me: null,
  csrf: null,
  meetingsCache: [],
  lang: storedLang(),
};
