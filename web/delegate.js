// diemcau – the delegate's tablet view (đại biểu). Plain ES2020, no
// framework, nothing loaded from outside (the network is isolated). One page
// routed in the browser:
//   /delegate                               login, then the meetings
//   /delegate/meetings/<id>[/<tab>]         documents (by agenda item, a
//                                           reader, private notes), votes,
//                                           registering to speak
// Same session as the console and the portal (cookie + X-CSRF-Token on
// writes). Documents are the reader's watermarked copy, shown by the
// browser's own PDF viewer from a downloaded blob (as the room page does).
// Notes never leave the tablet: localStorage, keyed by user, meeting,
// document version and page.
"use strict";

(() => {
  const { el, confirmBox, vnTime } = window.DiemcauCommon;
  // ------------------------------------------------------------ language
  const DICT = {
    vi: {
      app_title: "Đại biểu dự họp",
      lang_switch: "English",
      logout: "Đăng xuất",
      login_title: "Đăng nhập",
      login_name: "Tên đăng nhập",
      login_password: "Mật khẩu",
      login_submit: "Đăng nhập",
      login_need_name: "Vui lòng nhập tên đăng nhập.",
      login_need_password: "Vui lòng nhập mật khẩu.",
      meetings_title: "Hội nghị của tôi",
      meetings_empty: "Không có hội nghị nào.",
      refresh: "Làm mới",
      open_meeting: "Vào hội nghị",
      state_scheduled: "Đã lên lịch",
      state_open: "Mở phòng chờ",
      state_live: "Đang họp",
      state_ended: "Đã kết thúc",
      state_cancelled: "Đã hủy",
      back: "‹ Danh sách hội nghị",
      ws_connecting: "Đang kết nối…",
      ws_live: "Trực tiếp",
      ws_lost: "Mất kết nối, đang thử lại…",
      ws_closed: "Hội nghị chưa mở hoặc đã kết thúc",
      tab_documents: "Tài liệu",
      sig_signed: "Ký số",
      sig_ok: "Đã ký số, chữ ký hợp lệ",
      sig_warn: "Đã ký số, nhưng chữ ký cần lưu ý: mở tài liệu để xem chi tiết",
      tab_votes: "Biểu quyết",
      tab_speak: "Phát biểu",
      docs_title: "Tài liệu theo chương trình",
      docs_empty: "Chưa có tài liệu nào.",
      ag_current: "Đang thảo luận",
      ag_no_docs: "Không có tài liệu.",
      ag_general: "Tài liệu chung",
      doc_version: "bản {n}",
      reader_empty: "Chọn một tài liệu để đọc.",
      follow: "Theo người trình bày",
      follow_off: "Đã tắt chế độ theo người trình bày.",
      page_prev: "‹ Trang trước",
      page_next: "Trang sau ›",
      page_of: "Trang {p} / {n}",
      page_only: "Trang {p}",
      doc_loading: "Đang tải tài liệu…",
      doc_failed: "Không tải được tài liệu: {e}",
      doc_notpdf: "Tài liệu này không phải PDF; không xem được trên máy tính bảng.",
      presenter_other: "Người trình bày đang chiếu tài liệu khác: “{title}”, trang {page}.",
      note_label: "Ghi chú riêng – {title}, trang {page}",
      notes_local: "Ghi chú chỉ lưu trên máy này.",
      notes_export: "Xuất ghi chú (tệp văn bản)",
      notes_none: "Chưa có ghi chú nào trong hội nghị này.",
      notes_head: "Ghi chú riêng – {title}",
      notes_by: "Đại biểu: {who}",
      notes_at: "Xuất lúc: {at}",
      notes_doc: "== {title} (phiên bản {n}) ==",
      notes_page: "Trang {p}:",
      notes_exported: "Đã xuất {n} ghi chú.",
      votes_title: "Biểu quyết",
      motions_empty: "Chưa có nội dung biểu quyết.",
      mo_state_draft: "Chưa mở",
      mo_state_open: "Đang biểu quyết",
      mo_state_closed: "Đã kết thúc, chờ công bố",
      mo_state_published: "Đã công bố kết quả",
      mode_open: "Biểu quyết công khai",
      mode_secret: "Bỏ phiếu kín",
      voted: "Đã biểu quyết",
      voted_hint: "Phiếu của đồng chí đã được ghi nhận và không thay đổi được.",
      vote_confirm: "Biểu quyết “{option}” cho nội dung “{title}”? Sau khi gửi không thay đổi được.",
      vote_done: "Đã biểu quyết “{title}”.",
      mo_total: "Tổng số phiếu: {n}",
      mo_votes: "{n} phiếu",
      speak_title: "Đăng ký phát biểu",
      speak_hint: "Chọn điểm cầu (phòng họp) nơi đồng chí đang ngồi: mỗi điểm cầu có một micrô.",
      speak_room: "Điểm cầu",
      speak_request: "Đăng ký phát biểu",
      speak_withdraw: "Rút đăng ký",
      speak_none: "Chưa đăng ký phát biểu.",
      speak_queued: "Đã đăng ký phát biểu cho {room}: thứ tự {pos}.",
      speak_speaking: "{room} đang được phát biểu.",
      speak_done: "Đã đăng ký phát biểu.",
      speak_withdrawn: "Đã rút đăng ký phát biểu.",
      speak_closed: "Hội nghị chưa mở hoặc đã kết thúc: chưa đăng ký phát biểu được.",
      network_error: "Không kết nối được máy chủ. Vui lòng thử lại.",
      err_prefix: "Lỗi",
      cancel: "Hủy",
      confirm: "Đồng ý",
      errors: {
        unauthorized: "Chưa đăng nhập, sai thông tin đăng nhập hoặc phiên đã hết hạn.",
        rate_limited: "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau.",
        csrf: "Phiên làm việc không hợp lệ; vui lòng tải lại trang và đăng nhập lại.",
        forbidden: "Đồng chí không có quyền thực hiện thao tác này.",
        not_found: "Không tìm thấy.",
        unknown_meeting: "Không tìm thấy hội nghị.",
        unknown_document: "Không tìm thấy tài liệu.",
        recalled: "Tài liệu đã được thu hồi.",
        held: "Tài liệu đang chờ thư ký xác nhận.",
        unknown_motion: "Không tìm thấy nội dung biểu quyết.",
        vote_not_open: "Biểu quyết chưa mở.",
        vote_closed: "Biểu quyết đã kết thúc.",
        already_voted: "Đồng chí đã biểu quyết nội dung này; không biểu quyết lại được.",
        not_eligible: "Đồng chí không thuộc danh sách biểu quyết.",
        meeting_not_open: "Hội nghị chưa mở phòng chờ hoặc đã kết thúc.",
        not_live: "Hội nghị chưa mở phòng chờ hoặc đã kết thúc.",
        not_connected: "Điểm cầu này chưa kết nối vào hội nghị; chưa đăng ký phát biểu được.",
        not_in_queue: "Điểm cầu này chưa đăng ký phát biểu.",
        is_hub: "Điểm cầu chủ trì không đăng ký phát biểu.",
        unknown_endpoint: "Điểm cầu không tham gia hội nghị này.",
        invalid: "Dữ liệu không hợp lệ.",
        database_unavailable: "Cơ sở dữ liệu tạm thời không truy cập được.",
      },
    },
    en: {
      app_title: "Delegate",
      lang_switch: "Tiếng Việt",
      logout: "Log out",
      login_title: "Log in",
      login_name: "User name",
      login_password: "Password",
      login_submit: "Log in",
      login_need_name: "Please enter your user name.",
      login_need_password: "Please enter your password.",
      meetings_title: "My meetings",
      meetings_empty: "No meetings.",
      refresh: "Refresh",
      open_meeting: "Open",
      state_scheduled: "Scheduled",
      state_open: "Lobby open",
      state_live: "In session",
      state_ended: "Ended",
      state_cancelled: "Cancelled",
      back: "‹ Meetings",
      ws_connecting: "Connecting…",
      ws_live: "Live",
      ws_lost: "Connection lost, retrying…",
      ws_closed: "The meeting is not open or has ended",
      tab_documents: "Documents",
      sig_signed: "Signed",
      sig_ok: "Digitally signed, the signature is valid",
      sig_warn: "Digitally signed, but the signature needs attention: open the document for details",
      tab_votes: "Votes",
      tab_speak: "Speak",
      docs_title: "Documents by agenda item",
      docs_empty: "No documents yet.",
      ag_current: "Under discussion",
      ag_no_docs: "No documents.",
      ag_general: "General documents",
      doc_version: "v{n}",
      reader_empty: "Pick a document to read.",
      follow: "Follow the presenter",
      follow_off: "Following the presenter is off.",
      page_prev: "‹ Previous page",
      page_next: "Next page ›",
      page_of: "Page {p} / {n}",
      page_only: "Page {p}",
      doc_loading: "Loading the document…",
      doc_failed: "The document could not be loaded: {e}",
      doc_notpdf: "This document is not a PDF; it cannot be shown on the tablet.",
      presenter_other: "The presenter is showing another document: “{title}”, page {page}.",
      note_label: "Private note – {title}, page {page}",
      notes_local: "Notes are kept on this device only.",
      notes_export: "Export notes (text file)",
      notes_none: "No notes in this meeting yet.",
      notes_head: "Private notes – {title}",
      notes_by: "Delegate: {who}",
      notes_at: "Exported: {at}",
      notes_doc: "== {title} (version {n}) ==",
      notes_page: "Page {p}:",
      notes_exported: "Exported {n} notes.",
      votes_title: "Votes",
      motions_empty: "No motions yet.",
      mo_state_draft: "Not open",
      mo_state_open: "Voting open",
      mo_state_closed: "Closed, awaiting results",
      mo_state_published: "Results published",
      mode_open: "Open vote",
      mode_secret: "Secret ballot",
      voted: "Vote cast",
      voted_hint: "Your vote has been recorded and cannot be changed.",
      vote_confirm: "Vote “{option}” on “{title}”? It cannot be changed once sent.",
      vote_done: "Vote cast on “{title}”.",
      mo_total: "Total votes: {n}",
      mo_votes: "{n} votes",
      speak_title: "Register to speak",
      speak_hint: "Pick the room you sit in: each room has one microphone.",
      speak_room: "Room",
      speak_request: "Register to speak",
      speak_withdraw: "Withdraw",
      speak_none: "Not registered to speak.",
      speak_queued: "Registered to speak for {room}: number {pos}.",
      speak_speaking: "{room} has the floor.",
      speak_done: "Registered to speak.",
      speak_withdrawn: "Request to speak withdrawn.",
      speak_closed: "The meeting is not open or has ended: registering is not possible.",
      network_error: "Cannot reach the server. Please try again.",
      err_prefix: "Error",
      cancel: "Cancel",
      confirm: "OK",
      errors: {
        unauthorized: "Not logged in, wrong credentials or the session has expired.",
        rate_limited: "Too many failed logins; please try again later.",
        csrf: "Invalid session; reload the page and log in again.",
        forbidden: "You may not do this.",
        not_found: "Not found.",
        unknown_meeting: "Meeting not found.",
        unknown_document: "Document not found.",
        recalled: "The document has been recalled.",
        held: "The document awaits the secretariat's confirmation.",
        unknown_motion: "Motion not found.",
        vote_not_open: "The vote is not open.",
        vote_closed: "The vote has closed.",
        already_voted: "You have already voted on this motion; you cannot vote again.",
        not_eligible: "You are not on the list of voters.",
        meeting_not_open: "The meeting is not open or has ended.",
        not_live: "The meeting is not open or has ended.",
        not_connected: "This room is not connected to the meeting; it cannot register yet.",
        not_in_queue: "This room has not registered to speak.",
        is_hub: "The chairing room does not register to speak.",
        unknown_endpoint: "The room does not take part in this meeting.",
        invalid: "Invalid data.",
        database_unavailable: "The database is temporarily unavailable.",
      },
    },
  };

  let lang = DiemcauCommon.storedLang();

  function t(key, vars) {
    return DiemcauCommon.translate(DICT, lang, key, vars);
  }

  // ------------------------------------------------------------ helpers
  const $ = (id) => document.getElementById(id);
  const pageLog = DiemcauCommon.makeLog();
  const logLines = pageLog.lines;
  function log(...args) {
    pageLog.log(...args);
  }

  // ------------------------------------------------------------ API
  let csrf = null;
  let me = null;

  const { ApiError } = DiemcauCommon;

  function parseError(status, text, statusText) {
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (_) {
      json = null;
    }
    const err = (json && json.error) || {};
    return new ApiError(status, err.code || `http_${status}`, err.message || text || statusText, err.field);
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, "network", t("network_error"));
    }
    const text = await resp.text();
    if (!resp.ok) throw parseError(resp.status, text, resp.statusText);
    try {
      return text ? JSON.parse(text) : null;
    } catch (_) {
      return null;
    }
  }

  // A refusal in the chosen language: a known code gets its own sentence
  // (the server's English detail only in English); else the status and text.
  function errorText(e) {
    if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
    if (e.code === "network") return e.message;
    const known = DICT[lang].errors[e.code];
    if (known) return lang === "en" ? `${known} (${e.message})` : known;
    return `${t("err_prefix")} ${e.status}: ${e.message}`;
  }

  function toast(text, kind) {
    const box = el("div", { class: `toast toast-${kind || "info"}`, role: kind === "error" ? "alert" : "status", text });
    $("toasts").append(box);
    while ($("toasts").children.length > 3) $("toasts").firstChild.remove();
    setTimeout(() => box.remove(), kind === "error" ? 9000 : 3500);
    log("toast", kind || "info", text);
  }

  async function act(button, fn) {
    if (button) button.disabled = true;
    try {
      return await fn();
    } catch (e) {
      toast(errorText(e), "error");
      if (e instanceof ApiError && e.status === 401) showLogin();
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // ------------------------------------------------------------ routing
  const TABS = ["documents", "votes", "speak"];
  function route() {
    const m = location.pathname.match(/^\/delegate\/meetings\/([^/]+)(?:\/([a-z]+))?\/?$/);
    if (!m) return { view: "meetings" };
    return { view: "meeting", id: decodeURIComponent(m[1]), tab: TABS.includes(m[2]) ? m[2] : "documents" };
  }
  function go(path) {
    history.pushState(null, "", path);
    render();
  }
  window.addEventListener("popstate", () => render());

  function showOnly(id) {
    for (const v of ["view-login", "view-meetings", "view-meeting"]) $(v).hidden = v !== id;
    document.body.dataset.view = id;
  }

  async function render() {
    applyStaticText();
    if (!me) {
      try {
        const who = await api("GET", "/api/v1/auth/me");
        me = who.user;
        csrf = who.csrf || null;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) toast(errorText(e), "error");
        showLogin();
        return;
      }
    }
    showUser();
    const r = route();
    if (r.view === "meeting") openMeeting(r.id, r.tab);
    else {
      closeMeeting();
      showMeetings();
    }
  }

  // ------------------------------------------------------------ login
  function showLogin() {
    me = null;
    csrf = null;
    closeMeeting();
    meetingsCache = [];
    $("meetings-list").replaceChildren();
    showUser();
    showOnly("view-login");
    $("crumbs").textContent = "";
    setTimeout(() => $("login-name").focus(), 0);
  }

  function showUser() {
    $("who").hidden = !me;
    $("btn-logout").hidden = !me;
    $("who").textContent = me ? me.display_name || me.login : "";
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("login-name").value.trim();
    const password = $("login-password").value;
    $("login-error").hidden = true;
    const fail = (text, input) => {
      $("login-error").textContent = text;
      $("login-error").hidden = false;
      if (input) input.focus();
    };
    if (!name) return fail(t("login_need_name"), $("login-name"));
    if (!password) return fail(t("login_need_password"), $("login-password"));
    $("login-submit").disabled = true;
    try {
      const answer = await api("POST", "/api/v1/auth/login", { name, password });
      me = answer.user;
      csrf = answer.csrf;
      $("login-password").value = "";
      log("logged in", me.login);
      render();
    } catch (e) {
      fail(errorText(e));
    } finally {
      $("login-submit").disabled = false;
    }
  });

  $("btn-logout").addEventListener("click", () =>
    act($("btn-logout"), async () => {
      try {
        await api("POST", "/api/v1/auth/logout", {});
      } finally {
        history.pushState(null, "", "/delegate");
        showLogin();
      }
    })
  );

  // ------------------------------------------------------------ meetings
  function stateBadge(state) {
    return el("span", { class: `badge badge-${state}`, text: t(`state_${state}`) });
  }

  const STATE_ORDER = { live: 0, open: 1, scheduled: 2, ended: 3, cancelled: 4 };
  let meetingsCache = [];
  async function showMeetings() {
    showOnly("view-meetings");
    $("crumbs").textContent = t("meetings_title");
    // A week back (documents and published results stay readable), onwards.
    const from = Date.now() - 7 * 86400000;
    const list = await act(null, () => api("GET", `/api/v1/meetings?from_ms=${from}&limit=200`));
    if (!list) return;
    meetingsCache = (list.meetings || []).filter((m) => m.state !== "cancelled");
    meetingsCache.sort((a, b) => (STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9) || a.starts_at_ms - b.starts_at_ms);
    drawMeetings();
  }

  function drawMeetings() {
    const list = $("meetings-list");
    list.replaceChildren();
    $("meetings-empty").hidden = meetingsCache.length > 0;
    for (const m of meetingsCache) {
      const href = `/delegate/meetings/${encodeURIComponent(m.id)}`;
      list.append(
        el(
          "li",
          { class: "meeting-item", dataset: { meeting: m.id, state: m.state } },
          el("div", { class: "m-main" }, el("div", { class: "m-title", text: m.title }), el("div", { class: "time", text: vnTime(m.starts_at_ms) })),
          stateBadge(m.state),
          el("a", {
            class: "btn btn-primary btn-big",
            href,
            "data-action": "open",
            text: t("open_meeting"),
            onclick: (ev) => {
              ev.preventDefault();
              go(href);
            },
          })
        )
      );
    }
  }

  $("btn-refresh").addEventListener("click", () => showMeetings());

  // ------------------------------------------------------------ one meeting
  let cur = null;
  const base = () => `/api/v1/meetings/${encodeURIComponent(cur.id)}`;

  function closeMeeting() {
    if (!cur) return;
    cur.closed = true;
    if (cur.ws) cur.ws.close();
    clearTimeout(cur.retry);
    for (const b of cur.blobs.values()) if (b.url) URL.revokeObjectURL(b.url);
    cur = null;
    const f = $("reader-frame").querySelector("iframe");
    if (f) f.remove();
  }

  async function openMeeting(id, tab) {
    if (cur && cur.id === id) {
      showTab(tab);
      return;
    }
    closeMeeting();
    const mine = {
      id,
      tab,
      meeting: null,
      agenda: { items: [], current: null },
      docs: [],
      motions: [],
      participants: [],
      presentation: null,
      floor: null,
      follow: readFollow(),
      viewer: null, // {docId, page}
      blobs: new Map(), // doc id -> {url, type, pages} | {error}
      motionErrors: new Map(),
      ws: null,
      closed: false,
      retry: null,
    };
    cur = mine;
    showOnly("view-meeting");
    $("m-title").textContent = "";
    showTab(tab);
    const meeting = await act(null, () => api("GET", base()));
    if (!meeting || mine.closed) return;
    mine.meeting = meeting;
    drawHead();
    const [agenda, docs, motions, pres, parts] = await Promise.allSettled([
      api("GET", `${base()}/agenda`),
      api("GET", `${base()}/documents`),
      api("GET", `${base()}/motions`),
      api("GET", `${base()}/presentation`),
      api("GET", `${base()}/participants`),
    ]);
    if (mine.closed) return;
    if (agenda.status === "fulfilled") mine.agenda = agenda.value;
    if (docs.status === "fulfilled") mine.docs = docs.value.documents || [];
    if (motions.status === "fulfilled") mine.motions = motions.value.motions || [];
    if (pres.status === "fulfilled") mine.presentation = (pres.value && pres.value.presentation) || null;
    if (parts.status === "fulfilled") mine.participants = parts.value.participants || [];
    for (const r of [agenda, docs, motions]) if (r.status === "rejected") toast(errorText(r.reason), "error");
    $("follow").checked = mine.follow;
    // The page being read survives a reload (the query keeps it).
    const q = new URLSearchParams(location.search);
    if (q.get("doc") && docById(q.get("doc"))) mine.viewer = { docId: q.get("doc"), page: Math.max(1, Number(q.get("page")) || 1) };
    if (mine.follow && mine.presentation) followPresenter();
    drawAll();
    connectEvents(mine);
  }

  function drawAll() {
    drawHead();
    drawIndex();
    drawReader();
    drawMotions();
    drawSpeak();
  }

  function drawHead() {
    if (!cur || !cur.meeting) return;
    const m = cur.meeting;
    $("m-title").textContent = m.title;
    $("m-badge").replaceChildren(stateBadge(m.state));
    $("m-time").textContent = vnTime(m.starts_at_ms);
    $("crumbs").textContent = m.title;
  }

  function showTab(tab) {
    if (!cur) return;
    cur.tab = tab;
    for (const name of TABS) $(`tab-${name}`).hidden = name !== tab;
    for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  }

  for (const b of document.querySelectorAll(".tab")) {
    b.addEventListener("click", () => {
      if (!cur) return;
      history.pushState(null, "", `/delegate/meetings/${encodeURIComponent(cur.id)}/${b.dataset.tab}${location.search}`);
      showTab(b.dataset.tab);
    });
  }
  $("btn-back").addEventListener("click", () => go("/delegate"));

  // ------------------------------------------------------------ live events
  function setConn(state) {
    $("m-conn").dataset.state = state;
    $("m-conn-text").textContent = t({ live: "ws_live", lost: "ws_lost", closed: "ws_closed" }[state] || "ws_connecting");
  }

  // The meeting's event stream, with the session cookie (same origin).
  function connectEvents(mine) {
    if (mine.closed) return;
    const st = mine.meeting && mine.meeting.state;
    if (st !== "open" && st !== "live") {
      setConn("closed");
      return;
    }
    setConn("connecting");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}${base()}/live/events`);
    mine.ws = ws;
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (!mine.closed) onEvent(mine, msg);
    };
    ws.onopen = () => {
      log("events open");
      setConn("live");
    };
    ws.onclose = (ev) => {
      log("events closed", ev.code, ev.reason);
      mine.ws = null;
      if (mine.closed) return;
      setConn("lost");
      api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}`)
        .then((m) => {
          if (mine.closed) return;
          mine.meeting = m;
          drawHead();
          if (m.state === "open" || m.state === "live") mine.retry = setTimeout(() => connectEvents(mine), 3000);
          else setConn("closed");
        })
        .catch(() => {
          if (!mine.closed) mine.retry = setTimeout(() => connectEvents(mine), 3000);
        });
    };
  }

  async function reload(mine, what) {
    try {
      if (what === "agenda") {
        mine.agenda = await api("GET", `${base()}/agenda`);
        if (!mine.closed) drawIndex();
      } else if (what === "motions") {
        const r = await api("GET", `${base()}/motions`);
        mine.motions = r.motions || [];
        if (!mine.closed) drawMotions();
      } else if (what === "documents") {
        const r = await api("GET", `${base()}/documents`);
        mine.docs = r.documents || [];
        if (!mine.closed) drawIndex();
      } else if (what === "meeting") {
        mine.meeting = await api("GET", base());
        if (!mine.closed) drawHead();
      } else if (what === "presentation") {
        const r = await api("GET", `${base()}/presentation`);
        mine.presentation = (r && r.presentation) || null;
        if (mine.closed) return;
        if (mine.follow) followPresenter();
        drawReader();
      }
    } catch (e) {
      log("reload", what, "failed", errorText(e));
    }
  }

  function onEvent(mine, msg) {
    switch (msg.type) {
      case "snapshot":
        setConn("live");
        mine.floor = (msg.state && msg.state.floor) || null;
        drawSpeak();
        // What changed between the first reads and this subscription (or
        // while the link was down) came as events nobody heard: read again.
        for (const what of ["presentation", "motions", "agenda", "documents"]) reload(mine, what);
        break;
      case "presentation":
        mine.presentation = msg.document_id ? { document_id: String(msg.document_id), page: Number(msg.page) || 1 } : null;
        log("presentation", mine.presentation);
        if (mine.follow) followPresenter();
        drawReader();
        break;
      case "motion":
        reload(mine, "motions");
        break;
      case "agenda_changed":
      case "agenda_current":
        reload(mine, "agenda");
        break;
      case "meeting_state":
        reload(mine, "meeting");
        break;
      case "meeting_closed":
        setConn("closed");
        break;
      default:
        // Documents come and go without an event of their own: a cheap
        // re-read when something else happens keeps the list fresh.
        if (msg.type && msg.type.startsWith("floor")) reload(mine, "documents");
        break;
    }
  }

  // ------------------------------------------------------------ documents
  // The newest readable version of each document.
  function readableDocs() {
    return cur ? cur.docs.filter((d) => d.state === "available" && !d.superseded_by) : [];
  }
  function docById(id) {
    return cur ? cur.docs.find((d) => d.id === id) : null;
  }

  // A signed document's mark in the index: a check when every signature
  // is valid, a warning sign otherwise (the reader shows why).
  function signMark(d) {
    const sigs = d.signatures || [];
    if (!sigs.length) return null;
    const ok = sigs.every((s) => s.status === "valid");
    return el("span", { class: `doc-sig ${ok ? "doc-sig-ok" : "doc-sig-warn"}`, title: t(ok ? "sig_ok" : "sig_warn"), text: ok ? "✔ " + t("sig_signed") : "⚠ " + t("sig_signed") });
  }

  function drawIndex() {
    if (!cur) return;
    const box = $("doc-index");
    box.replaceChildren();
    const docs = readableDocs();
    $("docs-empty").hidden = docs.length > 0;
    const currentId = cur.agenda.current ? cur.agenda.current.item_id : null;
    const docButton = (d) =>
      el(
        "button",
        {
          class: "btn doc-btn",
          type: "button",
          dataset: { doc: d.id },
          "aria-current": cur.viewer && cur.viewer.docId === d.id ? "true" : "false",
          onclick: () => openDoc(d.id, 1, true),
        },
        el("span", { text: d.title }),
        el("span", { class: "doc-ver", text: t("doc_version", { n: d.version }) }),
        signMark(d)
      );
    for (const item of cur.agenda.items || []) {
      const mine = docs.filter((d) => d.agenda_item_id === item.id);
      const isCurrent = item.id === currentId;
      box.append(
        el(
          "section",
          { class: "ag-group", dataset: { item: item.id, current: String(isCurrent) } },
          el(
            "div",
            { class: "ag-head" },
            el("span", { class: "ag-pos", text: `${item.position}.` }),
            el("span", { class: "ag-title", text: item.title }),
            isCurrent ? el("span", { class: "ag-current", text: t("ag_current") }) : null
          ),
          item.presenter ? el("div", { class: "ag-presenter", text: item.presenter }) : null,
          ...(mine.length ? mine.map(docButton) : [el("div", { class: "ag-none", text: t("ag_no_docs") })])
        )
      );
    }
    const itemIds = new Set((cur.agenda.items || []).map((i) => i.id));
    const general = docs.filter((d) => !d.agenda_item_id || !itemIds.has(d.agenda_item_id));
    if (general.length) {
      box.append(
        el(
          "section",
          { class: "ag-group", dataset: { item: "", current: "false" } },
          el("div", { class: "ag-head" }, el("span", { class: "ag-title", text: t("ag_general") })),
          ...general.map(docButton)
        )
      );
    }
  }

  // Open document `id` at `page`; `manual`: the delegate chose it, which
  // stops following the presenter.
  function openDoc(id, page, manual) {
    if (!cur) return;
    if (manual && cur.follow) setFollow(false, true);
    saveNote();
    cur.viewer = { docId: id, page: Math.max(1, page) };
    drawIndex();
    drawReader();
  }

  function followPresenter() {
    const p = cur && cur.presentation;
    if (!p || !docById(p.document_id)) return;
    if (cur.viewer && cur.viewer.docId === p.document_id && cur.viewer.page === p.page) return;
    saveNote();
    cur.viewer = { docId: p.document_id, page: p.page };
    drawIndex();
  }

  function readFollow() {
    try {
      return localStorage.getItem("diemcau.delegate.follow") !== "off";
    } catch (_) {
      return true;
    }
  }
  function setFollow(on, tell) {
    if (!cur) return;
    cur.follow = on;
    $("follow").checked = on;
    try {
      localStorage.setItem("diemcau.delegate.follow", on ? "on" : "off");
    } catch (_) {
      /* private mode */
    }
    if (on) followPresenter();
    else if (tell) toast(t("follow_off"));
    drawReader();
  }
  $("follow").addEventListener("change", () => setFollow($("follow").checked, false));

  function turnPage(delta) {
    if (!cur || !cur.viewer) return;
    const b = cur.blobs.get(cur.viewer.docId);
    const max = b && b.pages ? b.pages : Infinity;
    const next = Math.min(max, Math.max(1, cur.viewer.page + delta));
    if (next === cur.viewer.page) return;
    if (cur.follow) setFollow(false, true);
    saveNote();
    cur.viewer.page = next;
    drawReader();
  }
  $("page-prev").addEventListener("click", () => turnPage(-1));
  $("page-next").addEventListener("click", () => turnPage(1));

  // Pages of a PDF, counted from its page objects (null: not found).
  function countPages(bytes) {
    let text = "";
    const step = 65536;
    for (let i = 0; i < bytes.length; i += step) text += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
    const counts = [...text.matchAll(/\/Type\s*\/Pages\b[^>]*?\/Count\s+(\d+)/g)].map((m) => Number(m[1]));
    if (counts.length) return Math.max(...counts);
    const pages = text.match(/\/Type\s*\/Page(?![a-zA-Z])/g);
    return pages ? pages.length : null;
  }

  async function loadDoc(mine, id) {
    if (mine.blobs.has(id)) return;
    mine.blobs.set(id, { loading: true });
    try {
      const r = await fetch(`${base()}/documents/${encodeURIComponent(id)}/content`, { credentials: "same-origin" });
      if (!r.ok) throw parseError(r.status, await r.text(), r.statusText);
      const raw = await r.blob();
      const d = docById(id);
      const type = (d && d.media_type) || raw.type || "application/pdf";
      const blob = raw.type === type ? raw : new Blob([raw], { type });
      const pages = type === "application/pdf" ? countPages(new Uint8Array(await blob.arrayBuffer())) : null;
      mine.blobs.set(id, { url: URL.createObjectURL(blob), type, pages });
      log("document", id, "loaded,", blob.size, "bytes,", pages, "pages");
    } catch (e) {
      log("document", id, "failed", errorText(e));
      mine.blobs.set(id, { error: errorText(e) });
      setTimeout(() => {
        if (mine.blobs.get(id) && mine.blobs.get(id).error) mine.blobs.delete(id);
      }, 5000);
    }
    if (!mine.closed) drawReader();
  }

  function rememberPlace() {
    const v = cur.viewer;
    const search = v ? `?doc=${encodeURIComponent(v.docId)}&page=${v.page}` : "";
    if (location.search !== search) history.replaceState(null, "", location.pathname + search);
  }

  function drawReader() {
    if (!cur) return;
    const v = cur.viewer;
    rememberPlace();
    $("reader-empty").hidden = !!v;
    $("reader").hidden = !v;
    const frameBox = $("reader-frame");
    const old = frameBox.querySelector("iframe");
    if (!v) {
      if (old) old.remove();
      return;
    }
    const d = docById(v.docId);
    const title = d ? d.title : v.docId;
    $("reader-title").textContent = title;
    const sigBox = $("reader-signatures");
    const badges = d ? DiemcauCommon.signatureBadges(d.signatures, lang) : null;
    if (sigBox.dataset.doc !== v.docId || sigBox.dataset.lang !== lang) {
      sigBox.replaceChildren(...(badges ? [badges] : []));
      sigBox.dataset.doc = v.docId;
      sigBox.dataset.lang = lang;
    }
    const b = cur.blobs.get(v.docId);
    if (!b) loadDoc(cur, v.docId);
    const pages = b && b.pages ? b.pages : null;
    if (pages && v.page > pages) v.page = pages;
    $("page-label").textContent = pages ? t("page_of", { p: v.page, n: pages }) : t("page_only", { p: v.page });
    $("page-prev").disabled = v.page <= 1;
    $("page-next").disabled = !!pages && v.page >= pages;
    const note = $("reader-note");
    let noteText = "";
    const p = cur.presentation;
    if (!b || b.loading) noteText = t("doc_loading");
    else if (b.error) noteText = t("doc_failed", { e: b.error });
    else if (!/^(application\/pdf|image\/)/.test(b.type)) noteText = t("doc_notpdf");
    else if (cur.follow && p && p.document_id !== v.docId) {
      const pd = docById(p.document_id);
      noteText = t("presenter_other", { title: pd ? pd.title : p.document_id, page: p.page });
    }
    note.textContent = noteText;
    note.hidden = !noteText;
    if (b && b.url && /^(application\/pdf|image\/)/.test(b.type)) {
      const src = b.url + (b.type === "application/pdf" ? `#toolbar=0&navpanes=0&page=${v.page}` : "");
      if (!old || old.getAttribute("src") !== src) {
        // A fresh frame per page: the browser's PDF viewer reads #page= when
        // it opens the (already downloaded) blob.
        const f = document.createElement("iframe");
        f.title = `${title} – ${t("page_only", { p: v.page })}`;
        f.setAttribute("src", src);
        if (old) old.replaceWith(f);
        else frameBox.append(f);
      }
    } else if (old) old.remove();
    drawNote();
  }

  // ------------------------------------------------------------ private notes
  // Kept in this browser only: user, meeting, document version, page.
  const NOTE_PREFIX = "diemcau.note|";
  function noteKey(docId, page) {
    const d = docById(docId);
    const lineage = d ? d.lineage_id : docId;
    const version = d ? d.version : 0;
    return `${NOTE_PREFIX}${me.id}|${cur.id}|${lineage}|v${version}|p${page}`;
  }
  function readNote(docId, page) {
    try {
      return localStorage.getItem(noteKey(docId, page)) || "";
    } catch (_) {
      return "";
    }
  }
  function saveNote() {
    if (!cur || !cur.viewer || !me) return;
    const area = $("note-text");
    if (area.dataset.key !== noteKey(cur.viewer.docId, cur.viewer.page)) return;
    try {
      if (area.value) localStorage.setItem(area.dataset.key, area.value);
      else localStorage.removeItem(area.dataset.key);
    } catch (e) {
      log("note not saved", String(e));
    }
  }
  function drawNote() {
    const v = cur.viewer;
    const d = docById(v.docId);
    const key = noteKey(v.docId, v.page);
    $("note-label").textContent = t("note_label", { title: d ? d.title : v.docId, page: v.page });
    const area = $("note-text");
    if (area.dataset.key !== key) {
      area.dataset.key = key;
      area.value = readNote(v.docId, v.page);
    }
  }
  $("note-text").addEventListener("input", () => saveNote());

  // Every note of this meeting, as a text file.
  function notesText() {
    if (!cur || !me) return { text: "", count: 0 };
    const prefix = `${NOTE_PREFIX}${me.id}|${cur.id}|`;
    const found = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (!k || !k.startsWith(prefix)) continue;
      const [lineage, ver, pg] = k.slice(prefix.length).split("|");
      found.push({ lineage, version: Number(ver.slice(1)), page: Number(pg.slice(1)), text: localStorage.getItem(k) || "" });
    }
    found.sort((a, b) => a.lineage.localeCompare(b.lineage) || a.version - b.version || a.page - b.page);
    const lines = [
      t("notes_head", { title: cur.meeting ? cur.meeting.title : cur.id }),
      t("notes_by", { who: me.display_name || me.login }),
      t("notes_at", { at: vnTime(Date.now()) }),
      "",
    ];
    let last = null;
    for (const n of found) {
      const d = cur.docs.find((x) => x.lineage_id === n.lineage && x.version === n.version);
      const head = t("notes_doc", { title: d ? d.title : n.lineage, n: n.version });
      if (head !== last) {
        lines.push(head);
        last = head;
      }
      lines.push(t("notes_page", { p: n.page }), n.text, "");
    }
    return { text: lines.join("\r\n"), count: found.length };
  }
  $("notes-export").addEventListener("click", () => {
    saveNote();
    const { text, count } = notesText();
    if (!count) {
      toast(t("notes_none"));
      return;
    }
    const url = URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/plain;charset=utf-8" }));
    const a = el("a", { href: url, download: `ghi-chu-${cur.id}.txt` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    toast(t("notes_exported", { n: count }), "ok");
  });

  // ------------------------------------------------------------ votes
  function drawMotions() {
    if (!cur) return;
    const box = $("motions");
    box.replaceChildren();
    const list = cur.motions.filter((m) => m.state !== "draft");
    $("motions-empty").hidden = list.length > 0;
    for (const m of list) {
      const voted = m.you_voted === true;
      const card = el(
        "article",
        { class: `motion${voted ? " motion-voted" : ""}`, dataset: { motion: m.id, state: m.state } },
        el("div", { class: "motion-title", text: m.title }),
        el("div", { class: "motion-sub", text: `${t(`mo_state_${m.state}`)} · ${t(m.mode === "secret" ? "mode_secret" : "mode_open")}` }),
        m.description ? el("p", { text: m.description }) : null
      );
      if (voted) card.append(el("div", { class: "voted", role: "status", text: t("voted") }), el("div", { class: "hint", text: t("voted_hint") }));
      if (m.state === "open" && m.you_voted !== null && m.you_voted !== undefined) {
        card.append(
          el(
            "div",
            { class: "motion-options" },
            ...m.options.map((label, i) =>
              el("button", {
                class: `btn ${voted ? "" : "btn-primary"}`,
                type: "button",
                dataset: { option: String(i) },
                text: label,
                onclick: (ev) => castVote(m, i, ev.currentTarget),
              })
            )
          )
        );
      }
      const err = cur.motionErrors.get(m.id);
      if (err) card.append(el("div", { class: "motion-error", role: "alert", text: err }));
      if (m.results) card.append(drawResults(m.results));
      box.append(card);
    }
  }

  function drawResults(r) {
    const total = r.total_votes || 0;
    return el(
      "div",
      { class: "bars" },
      ...r.options.map((o) =>
        el(
          "div",
          { class: "bar-row", dataset: { option: String(o.index) } },
          el("span", { text: o.label }),
          el("div", { class: "bar" }, el("span", { style: `width: ${total ? Math.round((o.votes * 100) / total) : 0}%` })),
          el("span", { class: "bar-n", text: t("mo_votes", { n: o.votes }) })
        )
      ),
      el("div", { class: "hint", text: t("mo_total", { n: total }) })
    );
  }

  async function castVote(m, index, button) {
    const mine = cur;
    const ok = await confirmBox(t("vote_confirm", { option: m.options[index], title: m.title }));
    if (!ok || mine !== cur) return;
    button.disabled = true;
    try {
      await api("POST", `${base()}/motions/${encodeURIComponent(m.id)}/vote`, { option: index });
      mine.motionErrors.delete(m.id);
      m.you_voted = true;
      toast(t("vote_done", { title: m.title }), "ok");
    } catch (e) {
      mine.motionErrors.set(m.id, errorText(e));
      toast(errorText(e), "error");
      if (e instanceof ApiError && e.status === 401) showLogin();
    } finally {
      button.disabled = false;
    }
    if (mine === cur) {
      drawMotions();
      reload(mine, "motions");
    }
  }

  // ------------------------------------------------------------ speak
  function roomKey() {
    return `diemcau.delegate.room|${me ? me.id : ""}`;
  }
  function drawSpeak() {
    if (!cur) return;
    const sel = $("speak-room");
    const chosen = sel.value || (() => {
      try {
        return localStorage.getItem(roomKey()) || "";
      } catch (_) {
        return "";
      }
    })();
    // The chairing room (hub) runs the floor; it does not ask for it.
    const hub = cur.meeting ? cur.meeting.hub_endpoint_id : null;
    const rooms = cur.participants.filter((p) => p.endpoint_id !== hub);
    sel.replaceChildren(
      ...rooms.map((p) =>
        el("option", { value: p.endpoint_id, text: p.unit_name ? `${p.endpoint_name} – ${p.unit_name}` : p.endpoint_name })
      )
    );
    if (chosen && rooms.some((p) => p.endpoint_id === chosen)) sel.value = chosen;
    const st = cur.meeting && cur.meeting.state;
    const live = st === "open" || st === "live";
    $("speak-request").disabled = !live || !sel.value;
    $("speak-withdraw").disabled = !live || !sel.value;
    const room = cur.participants.find((p) => p.endpoint_id === sel.value);
    const name = room ? room.endpoint_name : "";
    const floor = cur.floor;
    let status = live ? t("speak_none") : t("speak_closed");
    if (floor && floor.speaker && floor.speaker.endpoint_id === sel.value) status = t("speak_speaking", { room: name });
    else if (floor) {
      const q = (floor.queue || []).find((e) => e.endpoint_id === sel.value);
      if (q) status = t("speak_queued", { room: name, pos: q.position });
    }
    $("speak-status").textContent = status;
  }
  $("speak-room").addEventListener("change", () => {
    try {
      localStorage.setItem(roomKey(), $("speak-room").value);
    } catch (_) {
      /* private mode */
    }
    drawSpeak();
  });
  for (const [id, path, done] of [
    ["speak-request", "request", "speak_done"],
    ["speak-withdraw", "withdraw", "speak_withdrawn"],
  ]) {
    $(id).addEventListener("click", () =>
      act($(id), async () => {
        const mine = cur;
        const snap = await api("POST", `${base()}/live/floor/${path}`, { endpoint_id: $("speak-room").value });
        if (mine !== cur) return;
        mine.floor = (snap && snap.floor) || mine.floor;
        toast(t(done), "ok");
        drawSpeak();
      })
    );
  }

  // ------------------------------------------------------------ language
  function applyStaticText() {
    document.documentElement.lang = lang;
    document.title = t("app_title");
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    $("btn-lang").textContent = t("lang_switch");
  }

  $("btn-lang").addEventListener("click", () => {
    lang = lang === "vi" ? "en" : "vi";
    try {
      localStorage.setItem("diemcau.lang", lang);
    } catch (_) {
      /* private mode: the choice lasts for this page */
    }
    applyStaticText();
    if (!$("view-meetings").hidden) {
      $("crumbs").textContent = t("meetings_title");
      drawMeetings();
    }
    if (cur) {
      setConn($("m-conn").dataset.state);
      drawAll();
    }
  });

  // ------------------------------------------------------------ test hooks
  window.diemcau = {
    state: () => ({
      view: document.body.dataset.view,
      user: me ? me.login : null,
      lang,
      meeting: cur ? cur.id : null,
      tab: cur ? cur.tab : null,
      ws: cur && cur.ws ? cur.ws.readyState : null,
      follow: cur ? cur.follow : null,
      presentation: cur ? cur.presentation : null,
      viewer: cur && cur.viewer ? { ...cur.viewer, pages: (cur.blobs.get(cur.viewer.docId) || {}).pages || null, loaded: !!(cur.blobs.get(cur.viewer.docId) || {}).url } : null,
      documents: readableDocs().map((d) => ({ id: d.id, title: d.title, item: d.agenda_item_id })),
      motions: cur ? cur.motions.map((m) => ({ id: m.id, state: m.state, you_voted: m.you_voted })) : [],
    }),
    notesText: () => notesText(),
    log: () => logLines.slice(),
  };

  render();
})();
