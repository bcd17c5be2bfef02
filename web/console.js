// diemcau – operator console. Plain ES2020, no framework, nothing loaded
// from outside (the network is isolated). One page routed in the browser:
//   /console                   login, then the meetings of today and later
//   /console/meetings/<id>     the live wall of one meeting
// Every write sends the CSRF token from login (or /auth/me) as
// X-CSRF-Token; every refusal's {"error":{"code","message"}} is shown in a
// toast, in the chosen language, and nothing reloads the page.
"use strict";

(() => {
  // Shared helpers (web/common.js, loaded first).
  const { el, confirmBox, vnTime, startOfVnToday } = window.DiemcauCommon;
  // ------------------------------------------------------------ language
  const DICT = {
    vi: {
      app_title: "Điều hành hội nghị trực tuyến",
      lang_switch: "English",
      logout: "Đăng xuất",
      login_title: "Đăng nhập",
      login_name: "Tên đăng nhập",
      login_password: "Mật khẩu",
      login_submit: "Đăng nhập",
      login_need_name: "Vui lòng nhập tên đăng nhập.",
      login_need_password: "Vui lòng nhập mật khẩu.",
      meetings_title: "Hội nghị hôm nay và sắp tới",
      meetings_empty: "Không có hội nghị nào hôm nay hoặc sắp tới.",
      refresh: "Làm mới",
      col_time: "Thời gian",
      col_title: "Hội nghị",
      col_state: "Trạng thái",
      col_actions: "Thao tác",
      state_scheduled: "Đã lên lịch",
      state_open: "Mở phòng chờ",
      state_live: "Đang họp",
      state_ended: "Đã kết thúc",
      state_cancelled: "Đã hủy",
      act_open: "Mở phòng chờ",
      act_start: "Bắt đầu",
      act_end: "Kết thúc",
      act_wall: "Điều hành",
      confirm_end: "Kết thúc hội nghị “{title}”? Mọi kết nối sẽ bị đóng.",
      confirm_remove: "Mời điểm cầu “{name}” ra khỏi hội nghị? Điểm cầu chỉ vào lại được khi được cho phép.",
      confirm_stop_recording: "Dừng ghi hình?",
      cancel: "Hủy",
      confirm: "Đồng ý",
      back: "Danh sách hội nghị",
      ws_connecting: "Đang kết nối…",
      ws_live: "Trực tiếp",
      ws_lost: "Mất kết nối, đang thử lại…",
      ws_closed: "Hội nghị không còn trực tiếp",
      rollcall: "Điểm danh: {sites}/{expected} điểm cầu, {people} người",
      quorum_met: "Túc số: đủ ({present}/{required})",
      quorum_not_met: "Túc số: không đủ ({present}/{required})",
      rec_on: "Đang ghi hình",
      rec_off: "Không ghi hình",
      rec_failed: "Ghi hình lỗi",
      rec_start: "Bắt đầu ghi hình",
      rec_stop: "Dừng ghi hình",
      agenda_none: "Chưa vào nội dung nào",
      agenda_current: "Nội dung {pos}: {title}",
      lock: "Khóa hội nghị",
      unlock: "Mở khóa",
      locked: "Đã khóa",
      mute_all: "Tắt tiếng tất cả",
      unmute_all: "Bỏ tắt tiếng tất cả",
      scene: "Cảnh",
      scene_pick: "Hãy chọn một cảnh.",
      apply: "Áp dụng",
      scan_dwell: "Quét (giây/điểm cầu)",
      scan_start: "Quét điểm cầu",
      scan_stop: "Dừng quét",
      stage_auto: "Sân khấu tự động",
      floor_title: "Đăng ký phát biểu",
      floor_limit: "Thời lượng (phút)",
      floor_empty: "Chưa có điểm cầu đăng ký.",
      floor_none: "Không có ai đang phát biểu.",
      floor_speaking: "Đang phát biểu: {name}",
      floor_elapsed: "đã nói {elapsed}",
      floor_remaining: "còn {remaining}",
      floor_time_up: "hết giờ",
      grant: "Cho phát biểu",
      queue_up: "Lên trước",
      queue_withdraw: "Rút đăng ký",
      revoke: "Kết thúc phát biểu",
      others_title: "Kết nối khác",
      others_empty: "Không có.",
      log_title: "Diễn biến",
      audit_title: "Nhật ký kiểm toán",
      audit_empty: "Chưa có bản ghi nào về hội nghị này.",
      tile_hub: "Chủ trì",
      tile_guest: "Khách",
      tile_connected: "Đã kết nối",
      tile_dropped: "Mất kết nối",
      tile_waiting: "Chưa kết nối",
      tile_removed: "Đã mời ra",
      tile_drops: "Rớt {n} lần",
      tile_headcount: "{n} người",
      tile_no_headcount: "Chưa báo sĩ số",
      tile_stage: "Sân khấu",
      tile_floor_pos: "Đăng ký #{n}",
      tile_speaking: "Đang phát biểu",
      tile_mic_muted: "Micrô đang tắt",
      tile_cam_muted: "Camera đang tắt",
      meter_loss: "mất gói",
      btn_mute: "Tắt micrô",
      btn_unmute: "Bật micrô",
      btn_cam_off: "Tắt camera",
      btn_cam_on: "Bật camera",
      btn_stage: "Lên sân khấu",
      btn_unstage: "Rời sân khấu",
      btn_remove: "Mời ra",
      btn_readmit: "Cho vào lại",
      btn_headcount: "Sĩ số",
      headcount_prompt: "Sĩ số (số người) tại điểm cầu “{name}”:",
      headcount_bad: "Sĩ số phải là số nguyên từ 0 đến 100000.",
      dwell_bad: "Thời gian quét phải từ 5 đến 600 giây.",
      limit_bad: "Thời lượng phát biểu phải từ 1 đến 120 phút.",
      scan_nobody: "Chưa có điểm cầu nào kết nối để quét.",
      alert_dropped: "Điểm cầu “{name}” mất kết nối (lần {n}).",
      alert_back: "Điểm cầu “{name}” đã kết nối lại.",
      alert_rec_failed: "Ghi hình lỗi: {message}",
      alert_time_up: "“{name}” đã hết thời gian phát biểu.",
      alert_quorum_lost: "Không đủ túc số ({present}/{required}).",
      alert_meeting_ended: "Hội nghị đã kết thúc.",
      dismiss: "Đóng",
      done: "Đã thực hiện.",
      ev_site_connected: "{name} đã kết nối",
      ev_site_disconnected: "{name} mất kết nối",
      ev_muted: "{name}: micrô {audio}, camera {video}",
      ev_on: "bật",
      ev_off: "tắt",
      ev_stage_changed: "Sân khấu: {names}",
      ev_floor_requested: "{name} đăng ký phát biểu (#{n})",
      ev_floor_granted: "{name} được phát biểu",
      ev_floor_revoked: "{name} kết thúc phát biểu",
      ev_locked: "Hội nghị đã khóa",
      ev_unlocked: "Hội nghị đã mở khóa",
      ev_removed: "{name} bị mời ra",
      ev_readmitted: "{name} được cho vào lại",
      ev_scene_changed: "Cảnh: {label}",
      ev_headcount: "{name}: sĩ số {n}",
      ev_meeting_state: "Trạng thái hội nghị: {state}",
      ev_agenda_current: "Nội dung: {title}",
      ev_automatic: "tự động",
      network_error: "Không kết nối được máy chủ. Vui lòng thử lại.",
      err_prefix: "Lỗi",
      scenes: {
        khai_mac: "Khai mạc",
        chu_tri_phat_bieu: "Chủ trì phát biểu",
        thao_luan: "Thảo luận",
        bieu_quyet: "Biểu quyết",
        be_mac: "Bế mạc",
      },
      errors: {
        unauthorized: "Chưa đăng nhập, sai thông tin đăng nhập hoặc phiên đã hết hạn.",
        rate_limited: "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau.",
        csrf: "Phiên làm việc không hợp lệ; vui lòng tải lại trang và đăng nhập lại.",
        forbidden: "Bạn không có quyền thực hiện thao tác này.",
        out_of_scope: "Ngoài phạm vi đơn vị bạn quản lý.",
        not_found: "Không tìm thấy.",
        unknown_meeting: "Không tìm thấy hội nghị.",
        illegal_transition: "Không thể chuyển hội nghị sang trạng thái này từ trạng thái hiện tại.",
        meeting_not_open: "Hội nghị chưa mở phòng chờ hoặc đã kết thúc.",
        not_connected: "Điểm cầu chưa kết nối.",
        not_in_queue: "Điểm cầu không có trong danh sách đăng ký phát biểu.",
        no_floor_holder: "Không có ai đang phát biểu.",
        not_removed: "Điểm cầu không bị mời ra.",
        unknown_endpoint: "Điểm cầu không thuộc hội nghị.",
        is_hub: "Không thể thực hiện với điểm cầu chủ trì.",
        duplicate_endpoint: "Một điểm cầu được nêu hai lần.",
        empty_scan: "Danh sách quét trống.",
        bad_dwell: "Thời gian quét không hợp lệ.",
        bad_limit: "Thời lượng phát biểu không hợp lệ.",
        headcount_too_large: "Sĩ số quá lớn.",
        already_recording: "Hội nghị đang được ghi hình.",
        not_recording: "Hội nghị không đang ghi hình.",
        insufficient_storage: "Không đủ dung lượng ổ đĩa để ghi hình.",
        media_unavailable: "Máy chủ truyền thông không sẵn sàng.",
        invalid: "Dữ liệu không hợp lệ.",
        database_unavailable: "Cơ sở dữ liệu tạm thời không truy cập được.",
      },
    },
    en: {
      app_title: "Online conference operation",
      lang_switch: "Tiếng Việt",
      logout: "Log out",
      login_title: "Log in",
      login_name: "User name",
      login_password: "Password",
      login_submit: "Log in",
      login_need_name: "Please enter your user name.",
      login_need_password: "Please enter your password.",
      meetings_title: "Today's and upcoming meetings",
      meetings_empty: "No meeting today or later.",
      refresh: "Refresh",
      col_time: "Time",
      col_title: "Meeting",
      col_state: "State",
      col_actions: "Actions",
      state_scheduled: "Scheduled",
      state_open: "Lobby open",
      state_live: "Live",
      state_ended: "Ended",
      state_cancelled: "Cancelled",
      act_open: "Open lobby",
      act_start: "Start",
      act_end: "End",
      act_wall: "Operate",
      confirm_end: "End the meeting “{title}”? Every connection will be closed.",
      confirm_remove: "Send “{name}” out of the meeting? It can only come back when re-admitted.",
      confirm_stop_recording: "Stop recording?",
      cancel: "Cancel",
      confirm: "Confirm",
      back: "Meetings",
      ws_connecting: "Connecting…",
      ws_live: "Live",
      ws_lost: "Connection lost, retrying…",
      ws_closed: "The meeting is no longer live",
      rollcall: "Roll call: {sites}/{expected} sites, {people} people",
      quorum_met: "Quorum: met ({present}/{required})",
      quorum_not_met: "Quorum: not met ({present}/{required})",
      rec_on: "Recording",
      rec_off: "Not recording",
      rec_failed: "Recording failed",
      rec_start: "Start recording",
      rec_stop: "Stop recording",
      agenda_none: "No agenda item yet",
      agenda_current: "Item {pos}: {title}",
      lock: "Lock meeting",
      unlock: "Unlock",
      locked: "Locked",
      mute_all: "Mute all",
      unmute_all: "Unmute all",
      scene: "Scene",
      scene_pick: "Pick a scene.",
      apply: "Apply",
      scan_dwell: "Scan (seconds/site)",
      scan_start: "Scan sites",
      scan_stop: "Stop scan",
      stage_auto: "Automatic stage",
      floor_title: "Requests to speak",
      floor_limit: "Limit (minutes)",
      floor_empty: "No site has asked to speak.",
      floor_none: "Nobody has the floor.",
      floor_speaking: "Speaking: {name}",
      floor_elapsed: "{elapsed} spoken",
      floor_remaining: "{remaining} left",
      floor_time_up: "time is up",
      grant: "Give the floor",
      queue_up: "Move up",
      queue_withdraw: "Withdraw the request",
      revoke: "Take the floor back",
      others_title: "Other connections",
      others_empty: "None.",
      log_title: "Events",
      audit_title: "Audit log",
      audit_empty: "No record about this meeting yet.",
      tile_hub: "Hub",
      tile_guest: "Guest",
      tile_connected: "Connected",
      tile_dropped: "Dropped",
      tile_waiting: "Not connected yet",
      tile_removed: "Removed",
      tile_drops: "drops: {n}",
      tile_headcount: "{n} people",
      tile_no_headcount: "No headcount",
      tile_stage: "On stage",
      tile_floor_pos: "Request #{n}",
      tile_speaking: "Speaking",
      tile_mic_muted: "Microphone muted",
      tile_cam_muted: "Camera off",
      meter_loss: "loss",
      btn_mute: "Mute",
      btn_unmute: "Unmute",
      btn_cam_off: "Camera off",
      btn_cam_on: "Camera on",
      btn_stage: "Put on stage",
      btn_unstage: "Off stage",
      btn_remove: "Remove",
      btn_readmit: "Re-admit",
      btn_headcount: "Headcount",
      headcount_prompt: "Headcount (people) at “{name}”:",
      headcount_bad: "The headcount is a whole number from 0 to 100000.",
      dwell_bad: "The scan time is 5 to 600 seconds.",
      limit_bad: "The speaking limit is 1 to 120 minutes.",
      scan_nobody: "No site is connected to scan.",
      alert_dropped: "Site “{name}” dropped (drop {n}).",
      alert_back: "Site “{name}” is back.",
      alert_rec_failed: "Recording failed: {message}",
      alert_time_up: "“{name}” has used the speaking time.",
      alert_quorum_lost: "No quorum ({present}/{required}).",
      alert_meeting_ended: "The meeting has ended.",
      dismiss: "Dismiss",
      done: "Done.",
      ev_site_connected: "{name} connected",
      ev_site_disconnected: "{name} dropped",
      ev_muted: "{name}: microphone {audio}, camera {video}",
      ev_on: "on",
      ev_off: "off",
      ev_stage_changed: "Stage: {names}",
      ev_floor_requested: "{name} asked to speak (#{n})",
      ev_floor_granted: "{name} has the floor",
      ev_floor_revoked: "{name} finished speaking",
      ev_locked: "Meeting locked",
      ev_unlocked: "Meeting unlocked",
      ev_removed: "{name} removed",
      ev_readmitted: "{name} re-admitted",
      ev_scene_changed: "Scene: {label}",
      ev_headcount: "{name}: headcount {n}",
      ev_meeting_state: "Meeting state: {state}",
      ev_agenda_current: "Agenda item: {title}",
      ev_automatic: "automatic",
      network_error: "The server cannot be reached. Please try again.",
      err_prefix: "Error",
      scenes: {
        khai_mac: "Opening (Khai mạc)",
        chu_tri_phat_bieu: "Chair speaks (Chủ trì phát biểu)",
        thao_luan: "Discussion (Thảo luận)",
        bieu_quyet: "Vote (Biểu quyết)",
        be_mac: "Closing (Bế mạc)",
      },
      errors: {},
    },
  };
  const SCENES = ["khai_mac", "chu_tri_phat_bieu", "thao_luan", "bieu_quyet", "be_mac"];
  let lang = (() => {
    try {
      return localStorage.getItem("diemcau.lang") === "en" ? "en" : "vi";
    } catch (_) {
      return "vi";
    }
  })();

  function t(key, vars) {
    let s = DICT[lang][key];
    if (s === undefined) s = DICT.vi[key];
    if (s === undefined) s = key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
    return s;
  }

  // ------------------------------------------------------------ helpers
  const $ = (id) => document.getElementById(id);
  const logLines = [];
  function log(...args) {
    const line = new Date().toISOString().slice(11, 23) + " " + args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
    logLines.push(line);
    if (logLines.length > 300) logLines.shift();
    console.log("[diemcau]", ...args);
  }


  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const m = Math.floor(s / 60);
    return `${m}:${String(s % 60).padStart(2, "0")}`;
  }

  // Meetings are planned in Vietnam's time zone (UTC+07:00).

  // ------------------------------------------------------------ API
  let csrf = null;
  let me = null;

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field;
    }
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
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (_) {
      json = null;
    }
    if (!resp.ok) {
      const err = (json && json.error) || {};
      throw new ApiError(resp.status, err.code || `http_${resp.status}`, err.message || text || resp.statusText, err.field);
    }
    return json;
  }

  // The server's refusal, in the chosen language: a known code gets its
  // Vietnamese sentence, the server's own message follows for detail.
  function errorText(e) {
    if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
    if (e.code === "network") return e.message;
    const known = DICT[lang].errors[e.code] || (lang === "en" ? null : DICT.vi.errors[e.code]);
    const field = e.field ? ` [${e.field}]` : "";
    if (known) return `${known}${field} (${e.message})`;
    return `${t("err_prefix")} ${e.status}${field}: ${e.message}`;
  }

  // ------------------------------------------------------------ toasts, alerts, confirm
  function toast(text, kind) {
    const box = el("div", { class: `toast toast-${kind || "info"}`, role: kind === "error" ? "alert" : "status", text });
    $("toasts").append(box);
    setTimeout(() => box.remove(), kind === "error" ? 9000 : 3500);
    log("toast", kind || "info", text);
  }

  function alertBar(text, kind, key) {
    const strip = $("alerts");
    if (key) for (const old of strip.querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) old.remove();
    const box = el(
      "div",
      { class: `alert alert-${kind}`, dataset: { key: key || "" } },
      el("span", { class: "alert-text", text }),
      el("button", { class: "btn btn-small", type: "button", text: t("dismiss"), onclick: () => box.remove() })
    );
    strip.prepend(box);
    while (strip.children.length > 6) strip.lastChild.remove();
    log("alert", kind, text);
  }
  function clearAlert(key) {
    for (const old of $("alerts").querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) old.remove();
  }


  // Run an action: busy button, error in a toast, never an exception out.
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
  function route() {
    const m = location.pathname.match(/^\/console\/meetings\/([^/]+)\/?$/);
    return m ? { view: "live", id: decodeURIComponent(m[1]) } : { view: "meetings" };
  }
  function go(path) {
    history.pushState(null, "", path);
    render();
  }
  window.addEventListener("popstate", () => render());

  function showOnly(id) {
    for (const v of ["view-login", "view-meetings", "view-live"]) $(v).hidden = v !== id;
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
    if (r.view === "live") openLive(r.id);
    else {
      closeLive();
      showMeetings();
    }
  }

  // ------------------------------------------------------------ login
  function showLogin() {
    me = null;
    csrf = null;
    closeLive();
    // Nothing of the previous user stays in the page.
    meetingsCache = [];
    $("meetings-body").replaceChildren();
    $("alerts").replaceChildren();
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
    const errBox = $("login-error");
    errBox.hidden = true;
    for (const i of [$("login-name"), $("login-password")]) i.removeAttribute("aria-invalid");
    if (!name) {
      errBox.textContent = t("login_need_name");
      errBox.hidden = false;
      $("login-name").setAttribute("aria-invalid", "true");
      $("login-name").focus();
      return;
    }
    if (!password) {
      errBox.textContent = t("login_need_password");
      errBox.hidden = false;
      $("login-password").setAttribute("aria-invalid", "true");
      $("login-password").focus();
      return;
    }
    $("login-submit").disabled = true;
    try {
      const answer = await api("POST", "/api/v1/auth/login", { name, password });
      me = answer.user;
      csrf = answer.csrf;
      $("login-password").value = "";
      log("logged in", me.login);
      render();
    } catch (e) {
      errBox.textContent = errorText(e);
      errBox.hidden = false;
    } finally {
      $("login-submit").disabled = false;
    }
  });

  $("btn-logout").addEventListener("click", () =>
    act($("btn-logout"), async () => {
      try {
        await api("POST", "/api/v1/auth/logout", {});
      } finally {
        history.pushState(null, "", "/console");
        showLogin();
      }
    })
  );

  // ------------------------------------------------------------ meetings
  const STATES = ["scheduled", "open", "live", "ended", "cancelled"];
  function stateBadge(state) {
    return el("span", { class: `badge badge-${state}`, text: t(`state_${state}`) });
  }

  let meetingsCache = [];
  async function showMeetings() {
    showOnly("view-meetings");
    $("crumbs").textContent = t("meetings_title");
    const list = await act(null, () => api("GET", `/api/v1/meetings?from_ms=${startOfVnToday()}&limit=200`));
    if (!list) return;
    meetingsCache = list.meetings || [];
    drawMeetings();
  }

  function drawMeetings() {
    const body = $("meetings-body");
    body.replaceChildren();
    $("meetings-empty").hidden = meetingsCache.length > 0;
    for (const m of meetingsCache) {
      const actions = el("div", { class: "actions" });
      const lifecycle = (verb, label, cls) =>
        el("button", {
          class: `btn btn-small ${cls || ""}`,
          type: "button",
          dataset: { action: verb, meeting: m.id },
          text: t(label),
          onclick: (ev) => lifecycleAction(ev.currentTarget, m, verb),
        });
      if (m.state === "scheduled") actions.append(lifecycle("open", "act_open"));
      if (m.state === "open") actions.append(lifecycle("start", "act_start", "btn-primary"));
      if (m.state === "live") actions.append(lifecycle("end", "act_end", "btn-danger"));
      if (m.state === "open" || m.state === "live")
        actions.append(
          el("a", {
            class: "btn btn-small btn-primary",
            href: `/console/meetings/${encodeURIComponent(m.id)}`,
            dataset: { action: "wall", meeting: m.id },
            text: t("act_wall"),
            onclick: (ev) => {
              ev.preventDefault();
              go(`/console/meetings/${encodeURIComponent(m.id)}`);
            },
          })
        );
      body.append(
        el(
          "tr",
          { dataset: { meeting: m.id, state: m.state } },
          el("td", { class: "time", text: `${vnTime(m.starts_at_ms)} – ${vnTime(m.ends_at_ms).slice(0, 5)}` }),
          el("td", {}, el("div", { class: "m-title", text: m.title }), el("div", { class: "m-kind", text: (m.kind || "").toUpperCase() })),
          el("td", {}, stateBadge(m.state)),
          el("td", {}, actions)
        )
      );
    }
  }

  async function lifecycleAction(button, m, verb) {
    if (verb === "end" && !(await confirmBox(t("confirm_end", { title: m.title })))) return;
    const done = await act(button, () => api("POST", `/api/v1/meetings/${encodeURIComponent(m.id)}/${verb}`, {}));
    if (!done) return;
    toast(`${m.title}: ${t(`state_${done.state}`)}`, "ok");
    const i = meetingsCache.findIndex((x) => x.id === m.id);
    if (i >= 0) meetingsCache[i] = done;
    drawMeetings();
  }

  $("btn-refresh").addEventListener("click", () => showMeetings());

  // ------------------------------------------------------------ live wall
  let live = null; // { id, meeting, snap, ws, recording, agenda, timer, retry, fetchTimer, closed }

  function closeLive() {
    if (!live) return;
    live.closed = true;
    if (live.ws) live.ws.close();
    clearTimeout(live.retry);
    clearTimeout(live.fetchTimer);
    clearInterval(live.timer);
    clearInterval(live.auditTimer);
    stopMedia(live);
    live = null;
  }

  async function openLive(id) {
    if (live && live.id === id) {
      showOnly("view-live");
      drawLive();
      return;
    }
    closeLive();
    showOnly("view-live");
    $("alerts").replaceChildren();
    live = { id, meeting: null, snap: null, ws: null, recording: null, agenda: null, closed: false, seq: 0, events: [] };
    $("grid").replaceChildren();
    $("event-log").replaceChildren();
    const crumbs = $("crumbs");
    crumbs.replaceChildren(
      el("a", {
        href: "/console",
        text: t("back"),
        onclick: (ev) => {
          ev.preventDefault();
          go("/console");
        },
      })
    );
    setConn("connecting");
    const mine = live;
    const meeting = await act(null, () => api("GET", `/api/v1/meetings/${encodeURIComponent(id)}`));
    if (mine.closed) return;
    mine.meeting = meeting || null;
    $("audit-card").hidden = true;
    if (mayReadAudit()) {
      pollAudit(mine);
      mine.auditTimer = setInterval(() => pollAudit(mine), 10000);
    }
    if (meeting && (meeting.state === "ended" || meeting.state === "cancelled")) {
      drawLive();
      meetingOver(mine);
      refreshSnapshot(mine);
      return;
    }
    connectEvents(mine);
    loadRecording(mine);
    loadAgenda(mine);
    mine.timer = setInterval(() => drawFloor(), 1000);
    drawLive();
  }

  function setConn(state) {
    const c = $("live-conn");
    c.dataset.state = state;
    $("live-conn-text").textContent = t({ live: "ws_live", lost: "ws_lost", closed: "ws_closed" }[state] || "ws_connecting");
  }

  function connectEvents(mine) {
    if (mine.closed || mine.over) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/meetings/${encodeURIComponent(mine.id)}/live/events`);
    mine.ws = ws;
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (mine.closed) return;
      onEvent(mine, msg);
    };
    ws.onopen = () => log("events open");
    ws.onclose = (ev) => {
      log("events closed", ev.code, ev.reason);
      if (mine.closed || mine.over) return;
      setConn("lost");
      // The upgrade is refused with an HTTP error we cannot read here:
      // ask the snapshot route why, and show it.
      api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/live`)
        .then((snap) => {
          mine.snap = snap;
          drawLive();
        })
        .catch((e) => {
          alertBar(errorText(e), "red", "conn");
          if (e instanceof ApiError && e.status === 401) showLogin();
          // An ended meeting has no live room: stop knocking.
          if (e instanceof ApiError && e.code === "meeting_not_open") {
            clearTimeout(mine.retry);
            setConn("closed");
            clearAlert("conn");
            stopMedia(mine);
            reloadMeeting(mine);
          }
        });
      mine.retry = setTimeout(() => connectEvents(mine), 3000);
    };
  }

  // A live site's name for messages.
  function siteName(id) {
    const s = live && live.snap ? allSites().find((x) => x.endpoint_id === id) : null;
    return s ? s.name : id;
  }
  function allSites() {
    if (!live || !live.snap) return [];
    return [...live.snap.roll_call.sites, ...live.snap.roll_call.guests];
  }

  function logEvent(text) {
    const list = $("event-log");
    list.prepend(el("li", {}, el("span", { class: "ev-time", text: vnTime(Date.now()).slice(0, 5) }), " ", text));
    while (list.children.length > 60) list.lastChild.remove();
  }

  function onEvent(mine, msg) {
    if (msg.type === "snapshot") {
      mine.snap = msg.state;
      mine.seq = msg.seq || 0;
      setConn("live");
      clearAlert("conn");
      drawLive();
      if (!mine.media) startMedia(mine);
      return;
    }
    if (typeof msg.seq === "number") mine.seq = msg.seq;
    mine.events.push(msg);
    if (mine.events.length > 500) mine.events.shift();
    const name = msg.endpoint_id ? siteName(msg.endpoint_id) : msg.name;
    switch (msg.type) {
      case "site_connected":
        logEvent(t("ev_site_connected", { name: msg.name }));
        if (msg.reconnect) {
          clearAlert(`drop:${msg.endpoint_id}`);
          alertBar(t("alert_back", { name: msg.name }), "green", `back:${msg.endpoint_id}`);
        }
        break;
      case "site_disconnected":
        logEvent(t("ev_site_disconnected", { name }));
        alertBar(t("alert_dropped", { name, n: msg.drops }), "red", `drop:${msg.endpoint_id}`);
        break;
      case "muted":
        logEvent(t("ev_muted", { name, audio: t(msg.audio ? "ev_off" : "ev_on"), video: t(msg.video ? "ev_off" : "ev_on") }));
        patchSite(msg.endpoint_id, { muted_audio: msg.audio, muted_video: msg.video });
        break;
      case "stage_changed":
        logEvent(t("ev_stage_changed", { names: msg.endpoints.length ? msg.endpoints.map(siteName).join(", ") : t("ev_automatic") }));
        break;
      case "floor_requested":
        logEvent(t("ev_floor_requested", { name, n: msg.position }));
        break;
      case "floor_granted":
        logEvent(t("ev_floor_granted", { name }));
        break;
      case "floor_revoked":
        logEvent(t("ev_floor_revoked", { name }));
        break;
      case "floor_time_up":
        alertBar(t("alert_time_up", { name }), "amber", `timeup:${msg.endpoint_id}`);
        break;
      case "locked":
        logEvent(t("ev_locked"));
        break;
      case "unlocked":
        logEvent(t("ev_unlocked"));
        break;
      case "removed":
        logEvent(t("ev_removed", { name }));
        break;
      case "readmitted":
        logEvent(t("ev_readmitted", { name }));
        break;
      case "scene_changed":
        logEvent(t("ev_scene_changed", { label: msg.label }));
        break;
      case "headcount":
        logEvent(t("ev_headcount", { name, n: msg.headcount }));
        break;
      case "quorum_changed": {
        // Alert when quorum is lost, not while it is still being reached.
        const was = mine.snap ? mine.snap.roll_call.quorum.met : false;
        if (was && !msg.quorum.met) alertBar(t("alert_quorum_lost", msg.quorum), "amber", "quorum");
        if (msg.quorum.met) clearAlert("quorum");
        if (mine.snap) mine.snap.roll_call.quorum = msg.quorum;
        break;
      }
      case "recording_failed":
        alertBar(t("alert_rec_failed", { message: msg.message || msg.reason }), "red", "recording");
        loadRecording(mine);
        break;
      case "meeting_state":
        logEvent(t("ev_meeting_state", { state: t(`state_${msg.state}`) }));
        if (mine.meeting) mine.meeting.state = msg.state;
        reloadMeeting(mine);
        loadRecording(mine);
        break;
      case "agenda_current":
        mine.agenda = msg.item_id ? { title: msg.title, position: msg.position } : null;
        if (msg.title) logEvent(t("ev_agenda_current", { title: msg.title }));
        break;
      default:
        break;
    }
    // The snapshot route is the one truth: fetch it once the burst settles.
    clearTimeout(mine.fetchTimer);
    mine.fetchTimer = setTimeout(() => refreshSnapshot(mine), 150);
    drawLive();
  }

  // The meeting ended or was cancelled: its room is gone. Close the event
  // stream and the media session, keep the last state on screen.
  function meetingOver(mine) {
    if (mine.over) return;
    mine.over = true;
    clearTimeout(mine.retry);
    clearTimeout(mine.fetchTimer);
    if (mine.ws) {
      mine.ws.onclose = null;
      mine.ws.close();
    }
    stopMedia(mine);
    setConn("closed");
    clearAlert("conn");
    alertBar(t("alert_meeting_ended"), "amber", "ended");
    loadRecording(mine);
  }

  function noteMeeting(mine, m) {
    mine.meeting = m;
    if (m && (m.state === "ended" || m.state === "cancelled")) meetingOver(mine);
  }

  async function reloadMeeting(mine) {
    try {
      const m = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}`);
      if (mine.closed) return;
      noteMeeting(mine, m);
      drawHeader();
      drawToolbar();
    } catch (e) {
      log("meeting", errorText(e));
    }
  }

  function patchSite(id, fields) {
    const s = allSites().find((x) => x.endpoint_id === id);
    if (s) Object.assign(s, fields);
  }

  async function refreshSnapshot(mine) {
    try {
      const snap = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/live`);
      if (mine.closed) return;
      mine.snap = snap;
      drawLive();
    } catch (e) {
      if (e instanceof ApiError && e.code === "meeting_not_open") return;
      log("snapshot refresh failed", errorText(e));
    }
  }

  async function loadRecording(mine) {
    try {
      const list = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/recordings`);
      if (mine.closed) return;
      const recs = list.recordings || [];
      mine.recording = recs.find((r) => r.state === "recording") || recs[recs.length - 1] || { state: "none" };
      drawHeader();
    } catch (e) {
      log("recordings", errorText(e));
    }
  }

  async function loadAgenda(mine) {
    try {
      const a = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/agenda`);
      if (mine.closed) return;
      mine.agenda = a.current ? { title: a.current.title, position: a.current.position } : null;
      drawHeader();
    } catch (e) {
      log("agenda", errorText(e));
    }
  }

  // A live action: POST, then draw the snapshot the server answers.
  async function liveAction(button, what, body) {
    const mine = live;
    if (!mine) return;
    const snap = await act(button, () => api("POST", `/api/v1/meetings/${encodeURIComponent(mine.id)}/live/${what}`, body || {}));
    if (snap && !mine.closed) {
      mine.snap = snap;
      drawLive();
    }
    return snap;
  }

  function drawLive() {
    if (!live) return;
    drawHeader();
    drawToolbar();
    drawGrid();
    drawFloor();
    drawOthers();
  }

  function drawHeader() {
    if (!live) return;
    const m = live.meeting;
    $("live-meeting-title").textContent = m ? m.title : live.id;
    const st = $("live-state");
    st.className = `badge badge-${m ? m.state : "scheduled"}`;
    st.textContent = m ? t(`state_${m.state}`) : "";
    $("live-agenda").textContent = live.agenda ? t("agenda_current", { pos: live.agenda.position, title: live.agenda.title }) : t("agenda_none");
    const snap = live.snap;
    if (snap) {
      const rc = snap.roll_call;
      $("fig-rollcall").textContent = t("rollcall", { sites: rc.connected_sites, expected: rc.expected_sites, people: rc.people_present });
      const q = rc.quorum;
      const fq = $("fig-quorum");
      fq.textContent = t(q.met ? "quorum_met" : "quorum_not_met", q);
      fq.dataset.met = String(q.met);
    }
    const rec = live.recording;
    const fr = $("fig-recording");
    const recState = rec ? rec.state : "none";
    fr.dataset.state = recState;
    fr.textContent = recState === "recording" ? `● ${t("rec_on")}` : recState === "failed" ? t("rec_failed") : t("rec_off");
    const rb = $("btn-record");
    rb.textContent = recState === "recording" ? t("rec_stop") : t("rec_start");
    rb.dataset.recording = String(recState === "recording");
  }

  function drawToolbar() {
    const snap = live && live.snap;
    const lock = $("btn-lock");
    lock.textContent = snap && snap.locked ? t("unlock") : t("lock");
    lock.dataset.locked = String(!!(snap && snap.locked));
    const m = live && live.meeting;
    const life = $("btn-lifecycle");
    const verb = m && m.state === "open" ? "start" : m && m.state === "live" ? "end" : null;
    life.hidden = !verb;
    life.dataset.action = verb || "";
    life.textContent = verb ? t(`act_${verb}`) : "";
    life.classList.toggle("btn-danger", verb === "end");
    life.classList.toggle("btn-primary", verb === "start");
    $("sep-lifecycle").hidden = !verb;
    $("view-live").dataset.meetingState = m ? m.state : "";
    const scan = $("btn-scan");
    scan.textContent = snap && snap.scan ? t("scan_stop") : t("scan_start");
    const sel = $("scene-select");
    if (sel.options.length !== SCENES.length + 1 || sel.dataset.lang !== lang) {
      const keep = sel.value;
      sel.replaceChildren(el("option", { value: "", text: "—" }), ...SCENES.map((s) => el("option", { value: s, text: DICT[lang].scenes[s] })));
      sel.dataset.lang = lang;
      if (keep) sel.value = keep;
    }
    if (snap && snap.scene && document.activeElement !== sel) sel.value = snap.scene;
  }

  function tileState(s) {
    if (s.removed) return "removed";
    if (s.connected) return "connected";
    if (s.drops > 0) return "dropped";
    return "waiting";
  }

  const ICON_MIC_OFF =
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M19 11h-1.7c0 .74-.16 1.43-.43 2.05l1.23 1.23c.56-.98.9-2.09.9-3.28zm-4.02.17c0-.06.02-.11.02-.17V5a3 3 0 0 0-6 0v.18l5.98 5.99zM4.27 3 3 4.27l6.01 6.01V11a3 3 0 0 0 3 3c.22 0 .44-.03.65-.08l1.66 1.66c-.71.33-1.5.52-2.31.52a5.2 5.2 0 0 1-5.3-5.1H5c0 3.41 2.72 6.23 6 6.72V21h2v-3.28a7.1 7.1 0 0 0 2.54-.9L19.73 21 21 19.73 4.27 3z"/></svg>';
  const ICON_CAM_OFF =
    '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M21 6.5l-4 4V7a1 1 0 0 0-1-1H9.82L21 17.18V6.5zM3.27 2 2 3.27 4.73 6H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12c.21 0 .39-.08.54-.18L19.73 21 21 19.73 3.27 2z"/></svg>';

  function drawGrid() {
    const grid = $("grid");
    const snap = live && live.snap;
    if (!snap) return;
    const sites = allSites();
    const seen = new Set();
    for (const s of sites) {
      seen.add(s.endpoint_id);
      let tile = grid.querySelector(`[data-endpoint="${CSS.escape(s.endpoint_id)}"]`);
      if (!tile) {
        tile = buildTile(s);
        grid.append(tile);
      }
      fillTile(tile, s, snap);
    }
    for (const tile of [...grid.children]) if (!seen.has(tile.dataset.endpoint)) tile.remove();
    drawThumbs();
    drawMeters();
  }

  function buildTile(s) {
    const b = (action, onclick) => el("button", { class: "btn btn-tile", type: "button", dataset: { action }, onclick });
    const id = s.endpoint_id;
    const tile = el(
      "article",
      { class: "tile", dataset: { endpoint: id } },
      el(
        "div",
        { class: "thumb" },
        el("div", { class: "thumb-state" }),
        el("div", { class: "thumb-flags" }, el("span", { class: "flag flag-mic", hidden: true }), el("span", { class: "flag flag-cam", hidden: true })),
        el("div", { class: "thumb-badges" })
      ),
      el("div", { class: "meter", title: "" }, el("div", { class: "meter-fill" })),
      el("div", { class: "tile-name" }),
      el("div", { class: "tile-unit" }),
      el("div", { class: "tile-meta" }, el("span", { class: "tile-meta-text" }), el("span", { class: "meter-text" })),
      el(
        "div",
        { class: "tile-actions" },
        b("mute-audio", (ev) => {
          const cur = siteById(id);
          liveAction(ev.currentTarget, "mute", { endpoint_id: id, audio: !(cur && cur.muted_audio) });
        }),
        b("mute-video", (ev) => {
          const cur = siteById(id);
          liveAction(ev.currentTarget, "mute", { endpoint_id: id, video: !(cur && cur.muted_video) });
        }),
        b("stage", (ev) => toggleStage(ev.currentTarget, id)),
        b("grant", (ev) => grantFloor(ev.currentTarget, id)),
        b("headcount", (ev) => askHeadcount(ev.currentTarget, id)),
        b("remove", (ev) => removeOrReadmit(ev.currentTarget, id))
      )
    );
    tile.querySelector(".flag-mic").innerHTML = ICON_MIC_OFF;
    tile.querySelector(".flag-cam").innerHTML = ICON_CAM_OFF;
    return tile;
  }

  function siteById(id) {
    return allSites().find((x) => x.endpoint_id === id);
  }

  function fillTile(tile, s, snap) {
    const state = tileState(s);
    tile.dataset.state = state;
    tile.dataset.mutedAudio = String(!!s.muted_audio);
    tile.dataset.mutedVideo = String(!!s.muted_video);
    tile.dataset.onStage = String(!!s.on_stage);
    tile.dataset.floor = s.floor ? s.floor.state : "none";
    tile.dataset.hub = String(!!s.hub);
    const stateText = {
      connected: t("tile_connected"),
      dropped: t("tile_dropped"),
      waiting: t("tile_waiting"),
      removed: t("tile_removed"),
    }[state];
    const conn = tile.querySelector(".thumb-state");
    conn.replaceChildren(el("span", { class: "dot" }), " ", stateText, s.drops > 0 ? el("span", { class: "drops", text: ` · ${t("tile_drops", { n: s.drops })}` }) : "");
    const mic = tile.querySelector(".flag-mic");
    mic.hidden = !s.muted_audio;
    mic.title = t("tile_mic_muted");
    const cam = tile.querySelector(".flag-cam");
    cam.hidden = !s.muted_video;
    cam.title = t("tile_cam_muted");
    const badges = [];
    if (s.hub) badges.push(el("span", { class: "tb tb-hub", text: t("tile_hub") }));
    if (snap.roll_call.guests.includes(s)) badges.push(el("span", { class: "tb tb-guest", text: t("tile_guest") }));
    if (s.on_stage) badges.push(el("span", { class: "tb tb-stage", text: t("tile_stage") }));
    if (s.floor && s.floor.state === "requested") badges.push(el("span", { class: "tb tb-floor", text: t("tile_floor_pos", { n: s.floor.position }) }));
    if (s.floor && s.floor.state === "speaking") badges.push(el("span", { class: "tb tb-speaking", text: t("tile_speaking") }));
    tile.querySelector(".thumb-badges").replaceChildren(...badges);
    tile.querySelector(".tile-name").textContent = s.name;
    tile.querySelector(".tile-unit").textContent = s.unit_name || "";
    const meta = [];
    meta.push(s.headcount === null || s.headcount === undefined ? t("tile_no_headcount") : t("tile_headcount", { n: s.headcount }));
    if (s.connected && s.connected_for_ms !== null && s.connected_for_ms !== undefined) meta.push(duration(s.connected_for_ms));
    tile.querySelector(".tile-meta-text").textContent = meta.join(" · ");
    const btn = (a) => tile.querySelector(`[data-action="${a}"]`);
    btn("mute-audio").textContent = s.muted_audio ? t("btn_unmute") : t("btn_mute");
    btn("mute-audio").setAttribute("aria-pressed", String(!!s.muted_audio));
    btn("mute-video").textContent = s.muted_video ? t("btn_cam_on") : t("btn_cam_off");
    btn("mute-video").setAttribute("aria-pressed", String(!!s.muted_video));
    const staged = snap.base_stage.includes(s.endpoint_id);
    btn("stage").textContent = staged ? t("btn_unstage") : t("btn_stage");
    btn("grant").textContent = t("grant");
    btn("grant").hidden = !(s.floor && s.floor.state === "requested");
    btn("headcount").textContent = t("btn_headcount");
    btn("remove").textContent = s.removed ? t("btn_readmit") : t("btn_remove");
    btn("remove").classList.toggle("btn-danger", !s.removed);
    btn("remove").hidden = !!s.hub;
  }

  async function toggleStage(button, id) {
    const base = (live && live.snap && live.snap.base_stage) || [];
    const next = base.includes(id) ? base.filter((x) => x !== id) : [id];
    await liveAction(button, "stage", { endpoint_ids: next });
  }

  function floorLimitMs() {
    const v = $("floor-limit").value.trim();
    if (v === "") return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 120) return undefined;
    return n * 60000;
  }

  async function grantFloor(button, id) {
    const limit = floorLimitMs();
    if (limit === undefined) {
      $("floor-limit").setAttribute("aria-invalid", "true");
      toast(t("limit_bad"), "error");
      return;
    }
    $("floor-limit").removeAttribute("aria-invalid");
    await liveAction(button, "floor/grant", { endpoint_id: id, limit_ms: limit });
  }

  async function askHeadcount(button, id) {
    const s = siteById(id);
    const answer = window.prompt(t("headcount_prompt", { name: s ? s.name : id }), s && s.headcount != null ? String(s.headcount) : "");
    if (answer === null) return;
    const n = Number(answer.trim());
    if (answer.trim() === "" || !Number.isInteger(n) || n < 0 || n > 100000) {
      toast(t("headcount_bad"), "error");
      return;
    }
    await liveAction(button, "headcount", { endpoint_id: id, headcount: n });
  }

  async function removeOrReadmit(button, id) {
    const s = siteById(id);
    if (s && s.removed) {
      await liveAction(button, "readmit", { endpoint_id: id });
      return;
    }
    if (!(await confirmBox(t("confirm_remove", { name: s ? s.name : id })))) return;
    await liveAction(button, "remove", { endpoint_id: id });
  }

  function drawFloor() {
    if (!live || !live.snap) return;
    const floor = live.snap.floor;
    const sp = $("floor-speaker");
    if (floor.speaker) {
      const s = floor.speaker;
      // Count on from the snapshot's clock so the timer moves between events.
      const since = Date.now() - (live.snapAt || Date.now());
      const elapsed = s.elapsed_ms + (live.snapTaken === live.snap ? since : 0);
      const parts = [t("floor_elapsed", { elapsed: duration(elapsed) })];
      if (s.limit_ms) {
        const rem = s.limit_ms - elapsed;
        parts.push(rem > 0 ? t("floor_remaining", { remaining: duration(rem) }) : t("floor_time_up"));
      }
      sp.replaceChildren(
        el("div", { class: "speaker-name", text: t("floor_speaking", { name: s.name }) }),
        el("div", { class: `speaker-timer ${s.limit_ms && s.limit_ms - elapsed <= 0 ? "over" : ""}`, text: parts.join(" · ") }),
        el("button", { class: "btn btn-small btn-danger", type: "button", dataset: { action: "revoke" }, text: t("revoke"), onclick: (ev) => liveAction(ev.currentTarget, "floor/revoke", {}) })
      );
    } else {
      sp.replaceChildren(el("div", { class: "muted-text", text: t("floor_none") }));
    }
    if (live.snapTaken !== live.snap) {
      live.snapTaken = live.snap;
      live.snapAt = Date.now();
    }
    const q = $("floor-queue");
    q.replaceChildren(
      ...floor.queue.map((e) =>
        el(
          "li",
          { dataset: { endpoint: e.endpoint_id } },
          el("span", { class: "q-name", text: `${e.name}` }),
          el("span", { class: "q-wait", text: duration(e.waiting_ms) }),
          el("button", { class: "btn btn-small", type: "button", dataset: { action: "up" }, title: t("queue_up"), text: "↑", disabled: e.position === 1, onclick: (ev) => moveInQueue(ev.currentTarget, e.endpoint_id, -1) }),
          el("button", { class: "btn btn-small", type: "button", dataset: { action: "withdraw" }, title: t("queue_withdraw"), text: "×", onclick: (ev) => liveAction(ev.currentTarget, "floor/withdraw", { endpoint_id: e.endpoint_id }) }),
          el("button", { class: "btn btn-small btn-primary", type: "button", dataset: { action: "grant" }, text: t("grant"), disabled: !e.connected, onclick: (ev) => grantFloor(ev.currentTarget, e.endpoint_id) })
        )
      )
    );
    if (!floor.queue.length) q.append(el("li", { class: "muted-text", text: t("floor_empty") }));
  }

  async function moveInQueue(button, id, by) {
    const order = live.snap.floor.queue.map((e) => e.endpoint_id);
    const i = order.indexOf(id);
    const j = i + by;
    if (i < 0 || j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j], order[i]];
    await liveAction(button, "floor/order", { order });
  }

  function drawOthers() {
    const list = $("others");
    const others = (live && live.snap && live.snap.roll_call.others) || [];
    list.replaceChildren(...others.map((o) => el("li", { text: `${o.name} (${o.kind})` })));
    if (!others.length) list.append(el("li", { class: "muted-text", text: t("others_empty") }));
  }

  // Toolbar actions.
  $("btn-lifecycle").addEventListener("click", async (ev) => {
    const mine = live;
    if (!mine || !mine.meeting) return;
    const verb = ev.currentTarget.dataset.action;
    if (!verb) return;
    if (verb === "end" && !(await confirmBox(t("confirm_end", { title: mine.meeting.title })))) return;
    const done = await act(ev.currentTarget, () => api("POST", `/api/v1/meetings/${encodeURIComponent(mine.id)}/${verb}`, {}));
    if (done && !mine.closed) {
      noteMeeting(mine, done);
      toast(`${done.title}: ${t(`state_${done.state}`)}`, "ok");
      drawHeader();
      drawToolbar();
      loadRecording(mine);
    }
  });
  $("btn-lock").addEventListener("click", (ev) => liveAction(ev.currentTarget, live && live.snap && live.snap.locked ? "unlock" : "lock", {}));
  $("btn-mute-all").addEventListener("click", (ev) => liveAction(ev.currentTarget, "mute-all", { audio: true }));
  $("btn-unmute-all").addEventListener("click", (ev) => liveAction(ev.currentTarget, "unmute-all", {}));
  $("btn-scene").addEventListener("click", (ev) => {
    const scene = $("scene-select").value;
    if (!scene) {
      $("scene-select").setAttribute("aria-invalid", "true");
      toast(t("scene_pick"), "error");
      return;
    }
    $("scene-select").removeAttribute("aria-invalid");
    liveAction(ev.currentTarget, "scene", { scene });
  });
  $("btn-stage-auto").addEventListener("click", (ev) => liveAction(ev.currentTarget, "stage", { endpoint_ids: [] }));
  $("btn-scan").addEventListener("click", (ev) => {
    if (!live || !live.snap) return;
    if (live.snap.scan) {
      liveAction(ev.currentTarget, "scan/stop", {});
      return;
    }
    const secs = Number($("scan-dwell").value);
    if (!Number.isInteger(secs) || secs < 5 || secs > 600) {
      $("scan-dwell").setAttribute("aria-invalid", "true");
      toast(t("dwell_bad"), "error");
      return;
    }
    $("scan-dwell").removeAttribute("aria-invalid");
    const order = live.snap.roll_call.sites.filter((s) => s.connected && !s.hub).map((s) => s.endpoint_id);
    if (!order.length) {
      toast(t("scan_nobody"), "error");
      return;
    }
    liveAction(ev.currentTarget, "scan", { order, dwell_ms: secs * 1000 });
  });
  $("btn-record").addEventListener("click", (ev) => {
    const mine = live;
    if (!mine) return;
    const button = ev.currentTarget;
    const recording = mine.recording && mine.recording.state === "recording";
    act(button, async () => {
      if (recording) {
        if (!(await confirmBox(t("confirm_stop_recording")))) return;
        await api("POST", `/api/v1/meetings/${encodeURIComponent(mine.id)}/recordings/stop`, {});
      } else {
        await api("POST", `/api/v1/meetings/${encodeURIComponent(mine.id)}/recordings`, {});
        clearAlert("recording");
      }
      toast(t("done"), "ok");
      await loadRecording(mine);
    });
  });


  // ------------------------------------------------------------ audit log
  // Only roles that may read it (admin, auditor). The log is read oldest
  // first from a cursor; the records about this meeting are kept.
  const AUDIT_PAGES_PER_POLL = 20;
  function mayReadAudit() {
    const roles = (me && me.roles) || [];
    return roles.includes("admin") || roles.includes("auditor");
  }

  async function pollAudit(mine) {
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

  // ------------------------------------------------------------ thumbnails
  // The console joins the meeting's media room as `console` through its
  // session cookie (sent with the /ws upgrade; the join's token is empty),
  // with one recvonly video slot per site. The server says which
  // participant each slot shows (`slots`); the roll call says which site a
  // participant is. Link meters: what this console receives per tile.
  const MAX_THUMBS = 48;
  const ICE_GATHER_TIMEOUT_MS = 3000;

  function startMedia(mine) {
    if (mine.closed || mine.over || typeof RTCPeerConnection === "undefined") return;
    const sites = allSites().length;
    const media = { pc: null, ws: null, slots: [], tracks: new Map(), stats: new Map(), retry: null, statsTimer: null, state: "connecting", gen: (mine.media ? mine.media.gen : 0) + 1 };
    mine.media = media;
    const thumbs = Math.min(MAX_THUMBS, Math.max(4, sites + 2));
    (async () => {
      try {
        const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
        media.pc = pc;
        // stage, speaker, then the thumbnails
        for (let i = 0; i < thumbs + 2; i++) pc.addTransceiver("video", { direction: "recvonly" });
        pc.ontrack = (ev) => {
          if (ev.transceiver && ev.transceiver.mid !== null) media.tracks.set(ev.transceiver.mid, ev.track);
          drawThumbs();
        };
        pc.onconnectionstatechange = () => {
          log("media pc", pc.connectionState);
          if (pc.connectionState === "failed") restartMedia(mine, media, "pc failed");
        };
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        await new Promise((resolve) => {
          if (pc.iceGatheringState === "complete") return resolve();
          const timer = setTimeout(resolve, ICE_GATHER_TIMEOUT_MS);
          pc.addEventListener("icegatheringstatechange", () => {
            if (pc.iceGatheringState === "complete") {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        if (mine.closed || mine.media !== media) return;
        const proto = location.protocol === "https:" ? "wss:" : "ws:";
        const ws = new WebSocket(`${proto}//${location.host}/ws`);
        media.ws = ws;
        ws.onopen = () =>
          ws.send(
            JSON.stringify({
              type: "join",
              v: 1,
              meeting: mine.id,
              token: "",
              name: me ? `${me.display_name || me.login} (điều hành)` : "console",
              role: "console",
              offer: pc.localDescription.sdp,
            })
          );
        ws.onmessage = async (ev) => {
          let msg;
          try {
            msg = JSON.parse(ev.data);
          } catch (_) {
            return;
          }
          if (mine.media !== media) return;
          if (msg.type === "joined") {
            log("media joined as", msg.participant);
            media.participant = msg.participant;
            media.slots = msg.slots || [];
            try {
              await pc.setRemoteDescription({ type: "answer", sdp: msg.answer });
            } catch (e) {
              log("answer rejected", String(e));
            }
            media.state = "joined";
            drawThumbs();
          } else if (msg.type === "slots" || msg.type === "answer") {
            media.slots = msg.slots || media.slots;
            drawThumbs();
          } else if (msg.type === "error") {
            log("media refused", msg.code, msg.message);
            media.error = msg;
            if (media.state !== "joined") {
              media.state = "refused";
              ws.close();
            }
          }
        };
        ws.onclose = () => {
          if (mine.closed || mine.media !== media) return;
          restartMedia(mine, media, "ws closed");
        };
        media.statsTimer = setInterval(() => measure(media), 2000);
      } catch (e) {
        log("media failed", String(e));
        restartMedia(mine, media, "setup failed");
      }
    })();
  }

  function stopMedia(mine) {
    const media = mine && mine.media;
    if (!media) return;
    clearTimeout(media.retry);
    clearInterval(media.statsTimer);
    if (media.ws) {
      media.ws.onclose = null;
      try {
        if (media.ws.readyState === WebSocket.OPEN) media.ws.send(JSON.stringify({ type: "leave" }));
      } catch (_) {
        /* closing anyway */
      }
      media.ws.close();
    }
    if (media.pc) {
      media.pc.ontrack = media.pc.onconnectionstatechange = null;
      media.pc.close();
    }
    media.stopped = true;
  }

  function restartMedia(mine, media, why) {
    if (media.stopped || mine.closed) return;
    log("media restart:", why);
    if (mine.over || (mine.meeting && (mine.meeting.state === "ended" || mine.meeting.state === "cancelled"))) {
      stopMedia(mine);
      return;
    }
    stopMedia(mine);
    media.retry = setTimeout(() => {
      if (!mine.closed && mine.media === media) startMedia(mine);
    }, 5000);
  }

  // Each tile's slot (mid) by endpoint, from the slots and the roll call.
  function thumbMids() {
    const out = new Map();
    const media = live && live.media;
    if (!media) return out;
    const byParticipant = new Map();
    for (const s of allSites()) if (s.participant) byParticipant.set(String(s.participant), s.endpoint_id);
    for (const slot of media.slots) {
      if (slot.kind !== "video" || slot.role !== "thumbnail" || !slot.participant) continue;
      const ep = byParticipant.get(String(slot.participant));
      if (ep && !out.has(ep)) out.set(ep, slot.mid);
    }
    return out;
  }

  function drawThumbs() {
    if (!live || !live.media) return;
    const mids = thumbMids();
    for (const tile of $("grid").children) {
      const ep = tile.dataset.endpoint;
      const mid = mids.get(ep);
      const track = mid !== undefined ? live.media.tracks.get(mid) : undefined;
      const thumb = tile.querySelector(".thumb");
      let video = thumb.querySelector("video");
      tile.dataset.mid = mid === undefined ? "" : mid;
      if (!track) {
        if (video) video.remove();
        continue;
      }
      if (!video) {
        video = el("video", { autoplay: true, playsinline: true, muted: true });
        video.muted = true;
        thumb.prepend(video);
      }
      if (!video.srcObject || video.srcObject.getVideoTracks()[0] !== track) {
        video.srcObject = new MediaStream([track]);
        video.play().catch(() => {});
      }
    }
  }

  // Receive rate per slot, every 2 s: the tile's link meter.
  async function measure(media) {
    if (!media.pc || media.stopped) return;
    let report;
    try {
      report = await media.pc.getStats();
    } catch (_) {
      return;
    }
    const now = Date.now();
    report.forEach((r) => {
      if (r.type !== "inbound-rtp" || r.kind !== "video" || r.mid === undefined) return;
      const prev = media.stats.get(r.mid);
      const kbps = prev && now > prev.at ? ((r.bytesReceived - prev.bytes) * 8) / (now - prev.at) : 0;
      const lostDelta = prev ? Math.max(0, (r.packetsLost || 0) - prev.lost) : 0;
      const recvDelta = prev ? Math.max(0, (r.packetsReceived || 0) - prev.received) : 0;
      media.stats.set(r.mid, {
        at: now,
        bytes: r.bytesReceived || 0,
        lost: r.packetsLost || 0,
        received: r.packetsReceived || 0,
        kbps: Math.max(0, Math.round(kbps)),
        loss: lostDelta + recvDelta > 0 ? lostDelta / (lostDelta + recvDelta) : 0,
        fps: r.framesPerSecond || 0,
      });
    });
    drawMeters();
  }

  function drawMeters() {
    if (!live || !live.media) return;
    for (const tile of $("grid").children) {
      const mid = tile.dataset.mid;
      const st = mid ? live.media.stats.get(mid) : undefined;
      const meter = tile.querySelector(".meter");
      const fill = meter.querySelector(".meter-fill");
      const label = tile.querySelector(".meter-text");
      if (!st || tile.dataset.state !== "connected") {
        fill.style.width = "0%";
        meter.dataset.level = "none";
        label.textContent = "";
        tile.dataset.kbps = "0";
        continue;
      }
      // 0 .. 1.5 Mbit/s on a square-root scale: thin links stay visible.
      const pct = Math.min(100, Math.round(Math.sqrt(st.kbps / 1500) * 100));
      fill.style.width = `${pct}%`;
      meter.dataset.level = st.loss > 0.05 ? "bad" : st.kbps < 100 ? "low" : "good";
      label.textContent = `${st.kbps} kbit/s${st.loss > 0.005 ? ` · ${t("meter_loss")} ${(st.loss * 100).toFixed(1)}%` : ""}`;
      tile.dataset.kbps = String(st.kbps);
    }
  }

  // ------------------------------------------------------------ language switch
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
    if (live) {
      $("grid").replaceChildren();
      const back = $("crumbs").querySelector("a");
      if (back) back.textContent = t("back");
      setConn($("live-conn").dataset.state);
      drawLive();
    }
  });

  // ------------------------------------------------------------ test hooks
  window.diemcau = {
    state: () => ({
      view: document.body.dataset.view,
      user: me ? me.login : null,
      lang,
      meeting: live ? live.id : null,
      seq: live ? live.seq : null,
      ws: live && live.ws ? live.ws.readyState : null,
      snapshot: live ? live.snap : null,
      recording: live ? live.recording : null,
      media: live && live.media ? { state: live.media.state, participant: live.media.participant || null, slots: live.media.slots, tracks: [...live.media.tracks.keys()], stats: Object.fromEntries(live.media.stats) } : null,
    }),
    log: () => logLines.slice(),
  };

  render();
})();
