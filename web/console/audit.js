// @ts-check
// The live wall's audit log panel.
import { $, el } from "../lib/dom.js";
import { vnTime } from "../lib/time.js";
import { S } from "./state.js";
import { api, errorText, log, t } from "./core.js";

// ------------------------------------------------------------ audit log
// Only roles that may read it (admin, auditor). The log is read oldest
// first from a cursor; the records about this meeting are kept.
const AUDIT_PAGES_PER_POLL = 20;
export function mayReadAudit() {
  const roles = (S.me && S.me.roles) || [];
  return roles.includes("admin") || roles.includes("auditor");
}

export async function pollAudit(mine) {
  if (mine.closed || !mayReadAudit()) return;
  $("audit-card").hidden = false;
  mine.audit = mine.audit || { after: 0, records: [] };
  const target = `meeting:${mine.id}`;
  try {
    for (let i = 0; i < AUDIT_PAGES_PER_POLL; i++) {
      const page = await api("GET", `/api/v1/audit?after=${mine.audit.after}&limit=1000`);
      if (mine.closed) return;
      for (const r of page.records || []) {
        mine.audit.after = Math.max(mine.audit.after, r.seq);
        if (r.target === target) mine.audit.records.push(r);
      }
      if (page.next_after === null || page.next_after === undefined) break;
      mine.audit.after = page.next_after;
    }
    if (mine.audit.records.length > 200) mine.audit.records.splice(0, mine.audit.records.length - 200);
    drawAudit(mine);
  } catch (e) {
    log("audit", errorText(e));
  }
}

function drawAudit(mine) {
  const list = $("audit-log");
  const recs = mine.audit ? mine.audit.records.slice(-40).reverse() : [];
  list.replaceChildren(
    ...recs.map((r) =>
      el("li", { title: r.details }, el("span", { class: "ev-time", text: vnTime(r.at_ms).slice(0, 5) }), " ", `${r.actor_name}: ${r.action}`)
    )
  );
  if (!recs.length) list.append(el("li", { class: "muted-text", text: t("audit_empty") }));
}
