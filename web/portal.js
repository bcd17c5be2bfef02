// diemcau – secretariat portal (cổng thư ký). Plain ES2020, no framework,
// nothing loaded from outside (the network is isolated). One page routed
// in the browser:
//   /portal                        login, then the meetings to work on
//   /portal/meetings/<id>[/<tab>]  agenda, documents, votes, minutes
// The helpers (api, errorText, toast, confirmBox, act, i18n) follow the
// operator console's (web/console.js). Every write sends the CSRF token as
// X-CSRF-Token; every refusal's {"error":{"code","message"}} is shown in
// the chosen language and nothing reloads the page.
"use strict";

(() => {
  // Shared helpers (web/common.js, loaded first).
  const { el, confirmBox, vnTime, startOfVnToday } = window.DiemcauCommon;
  // ------------------------------------------------------------ language
  const DICT = {
    vi: {
      app_title: "Cổng thư ký hội nghị",
      to_console: "Điều hành hội nghị",
      lang_switch: "English",
      logout: "Đăng xuất",
      login_title: "Đăng nhập",
      login_name: "Tên đăng nhập",
      login_password: "Mật khẩu",
      login_submit: "Đăng nhập",
      login_need_name: "Vui lòng nhập tên đăng nhập.",
      login_need_password: "Vui lòng nhập mật khẩu.",
      meetings_title: "Chọn hội nghị",
      meetings_empty: "Không có hội nghị nào.",
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
      act_work: "Chuẩn bị",
      back: "Danh sách hội nghị",
      ws_connecting: "Đang kết nối…",
      ws_live: "Trực tiếp",
      ws_lost: "Mất kết nối, đang thử lại…",
      ws_closed: "Hội nghị chưa mở hoặc đã kết thúc",
      tab_agenda: "Chương trình nghị sự",
      tab_documents: "Tài liệu họp",
      tab_votes: "Biểu quyết",
      tab_minutes: "Biên bản",
      // agenda
      agenda_title: "Chương trình nghị sự",
      agenda_hint: "Kéo thả để sắp xếp lại thứ tự.",
      agenda_empty: "Chưa có nội dung nào.",
      agenda_add: "Thêm nội dung",
      agenda_edit: "Sửa nội dung {pos}",
      ag_title: "Tên nội dung",
      ag_presenter: "Người trình bày",
      ag_minutes: "Thời lượng dự kiến (phút)",
      ag_minutes_short: "{n} phút",
      ag_no_presenter: "chưa có người trình bày",
      ag_current: "Đang thảo luận",
      ag_take_up: "Bắt đầu thảo luận",
      ag_up: "Lên",
      ag_down: "Xuống",
      edit: "Sửa",
      delete: "Xóa",
      add: "Thêm",
      save: "Lưu",
      cancel_edit: "Hủy sửa",
      ag_need_title: "Vui lòng nhập tên nội dung (tối đa 500 ký tự).",
      ag_bad_presenter: "Tên người trình bày tối đa 200 ký tự.",
      ag_bad_minutes: "Thời lượng dự kiến phải là số nguyên từ 1 đến 600 phút.",
      ag_added: "Đã thêm nội dung “{title}”.",
      ag_saved: "Đã lưu nội dung “{title}”.",
      ag_deleted: "Đã xóa nội dung “{title}”.",
      ag_reordered: "Đã sắp xếp lại chương trình.",
      confirm_delete_item: "Xóa nội dung “{title}” khỏi chương trình?",
      // documents
      docs_title: "Tài liệu họp",
      docs_empty: "Chưa có tài liệu nào.",
      col_doc: "Tài liệu",
      col_version: "Phiên bản",
      col_size: "Dung lượng",
      col_doc_state: "Tình trạng",
      doc_available: "Đã phát hành",
      doc_held: "Chờ xác nhận",
      doc_recalled: "Đã thu hồi",
      doc_superseded: "Đã có bản mới",
      doc_item: "Nội dung {pos}",
      doc_download: "Tải về",
      doc_confirm: "Xác nhận không mật",
      doc_new_version: "Phiên bản mới",
      doc_confirmed: "Đã xác nhận tài liệu “{title}” không mật; các điểm cầu đã đọc được.",
      confirm_doc: "Xác nhận tài liệu “{title}” là văn bản thường, không mật? Sau khi xác nhận, mọi điểm cầu đọc được tài liệu này.",
      held_hint: "Phát hiện dấu “MẬT” trong tài liệu: tài liệu được giữ lại chờ thư ký xác nhận.",
      upload_title: "Tải tài liệu lên",
      up_file: "Tệp (PDF, ảnh, văn bản văn phòng)",
      up_choose: "Chọn tệp…",
      up_no_file: "Chưa chọn tệp",
      up_doc_title: "Tên tài liệu",
      up_class: "Độ mật",
      up_item: "Thuộc nội dung",
      up_supersedes: "Là phiên bản mới của",
      up_none_item: "— Không thuộc nội dung nào —",
      up_none_doc: "— Tài liệu mới —",
      class_thuong: "Thường",
      class_mat: "Mật",
      class_toi_mat: "Tối mật",
      class_tuyet_mat: "Tuyệt mật",
      upload: "Tải lên",
      upload_abort: "Dừng tải",
      up_need_file: "Vui lòng chọn tệp cần tải lên.",
      up_empty_file: "Tệp rỗng, không có nội dung.",
      up_need_title: "Vui lòng nhập tên tài liệu (tối đa 300 ký tự).",
      up_progress: "{pct}% · {loaded} / {total}",
      up_processing: "100% · {total} — máy chủ đang kiểm tra tệp…",
      up_done: "Đã tải lên “{title}” ({size}).",
      up_done_held: "Đã tải lên “{title}”; tài liệu có dấu MẬT nên đang chờ xác nhận.",
      up_failed: "Tải lên không thành công.",
      up_aborted: "Đã dừng tải lên.",
      book_title: "Bộ tài liệu tại các điểm cầu",
      watch_live: "Xem truyền hình trực tiếp",
      book_empty: "Chưa có tài liệu phát hành hoặc chưa có điểm cầu.",
      book_endpoint: "Điểm cầu",
      book_count: "Đã nhận",
      book_total: "Cả bộ: {n} tài liệu, {size}.",
      // votes
      votes_title: "Biểu quyết",
      motions_empty: "Chưa có nội dung biểu quyết.",
      motion_new: "Tạo nội dung biểu quyết",
      mo_title: "Nội dung biểu quyết",
      mo_mode: "Hình thức",
      mo_electorate: "Người biểu quyết",
      mo_options: "Phương án (mỗi dòng một phương án; để trống: Tán thành / Không tán thành / Không biểu quyết)",
      mode_open: "Biểu quyết công khai",
      mode_secret: "Bỏ phiếu kín",
      el_delegates: "Từng đại biểu",
      el_rooms: "Từng điểm cầu (theo sĩ số)",
      create: "Tạo",
      mo_need_title: "Vui lòng nhập nội dung biểu quyết (tối đa 500 ký tự).",
      mo_bad_options: "Cần từ 2 đến 20 phương án khác nhau, mỗi phương án tối đa 200 ký tự.",
      mo_created: "Đã tạo nội dung biểu quyết “{title}”.",
      mo_state_draft: "Chưa mở",
      mo_state_open: "Đang biểu quyết",
      mo_state_closed: "Đã kết thúc",
      mo_state_published: "Đã công bố",
      mo_open: "Mở biểu quyết",
      mo_close: "Kết thúc biểu quyết",
      mo_publish: "Công bố kết quả",
      mo_chair_runs: "Chủ trì hội nghị mở, kết thúc và công bố biểu quyết.",
      mo_ballots: "Đã bỏ phiếu: {n}",
      mo_total: "Tổng số phiếu: {n}",
      mo_secret_hidden: "Bỏ phiếu kín: kết quả chỉ hiện khi kết thúc.",
      mo_hidden: "Kết quả hiện khi công bố.",
      mo_votes: "{n} phiếu",
      confirm_close_motion: "Kết thúc biểu quyết “{title}”? Sau đó không ai bỏ phiếu được nữa.",
      confirm_publish_motion: "Công bố kết quả biểu quyết “{title}” cho mọi điểm cầu?",
      // minutes
      minutes_title: "Biên bản hội nghị",
      mi_items: "Tóm tắt từng nội dung",
      mi_notes: "Diễn biến hội nghị",
      mi_conclusions: "Kết luận",
      mi_save: "Lưu dự thảo",
      mi_finalise: "Hoàn thành biên bản",
      mi_export: "Xuất biên bản",
      mi_pdf: "Tải PDF",
      mi_json: "Tải JSON",
      mi_versions: "Các phiên bản",
      mi_versions_empty: "Chưa lưu phiên bản nào.",
      mi_generated: "Dự thảo tự động",
      mi_draft: "Dự thảo phiên bản {n}",
      mi_final: "Bản chính thức phiên bản {n}",
      mi_final_hint: "Biên bản đã hoàn thành; lưu lại sẽ tạo phiên bản mới.",
      mi_need_conclusions: "Vui lòng nhập kết luận (tối đa 50000 ký tự).",
      mi_too_long: "Mỗi phần tối đa 50000 ký tự.",
      mi_saved: "Đã lưu biên bản (phiên bản {n}).",
      mi_finalised: "Biên bản phiên bản {n} đã hoàn thành.",
      confirm_finalise: "Hoàn thành biên bản phiên bản {n}? Bản chính thức không sửa được nữa.",
      mi_header: "{kind} · {date}, {start}–{end} · Chủ trì: {chair} · Thư ký: {secretary}",
      mi_attendance: "Điểm danh: {text}",
      mi_attendance_line: "{sites}/{expected} điểm cầu, {people} người (lúc {at})",
      mi_signatures: "Chữ ký số",
      mi_signatures_empty: "Chưa có bản chính thức để ký.",
      mi_signed_line: "Đã ký — {role}: {signer} ({at})",
      mi_pending_line: "Chờ ký — {role}{name}",
      mi_sealed: "Đã đóng dấu số; bản PDF tải về là bản đã ký.",
      role_sig_secretary: "Thư ký",
      role_sig_chair: "Chủ trì",
      role_sig_seal: "Dấu của cơ quan",
      mi_motions: "Kết quả biểu quyết đã công bố",
      mi_no_item_summary: "Tóm tắt thảo luận…",
      mi_version_line: "Phiên bản {n} · {status} · {by} · {at}",
      status_draft: "dự thảo",
      status_final: "chính thức",
      nobody: "chưa có",
      network_error: "Không kết nối được máy chủ. Vui lòng thử lại.",
      err_prefix: "Lỗi",
      done: "Đã thực hiện.",
      cancel: "Hủy",
      confirm: "Đồng ý",
      errors: {
        unauthorized: "Chưa đăng nhập, sai thông tin đăng nhập hoặc phiên đã hết hạn.",
        rate_limited: "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau.",
        csrf: "Phiên làm việc không hợp lệ; vui lòng tải lại trang và đăng nhập lại.",
        forbidden: "Bạn không có quyền thực hiện thao tác này.",
        out_of_scope: "Ngoài phạm vi đơn vị bạn quản lý.",
        not_found: "Không tìm thấy.",
        unknown_meeting: "Không tìm thấy hội nghị.",
        unknown_item: "Không tìm thấy nội dung trong chương trình.",
        not_editable: "Hội nghị đã kết thúc; không sửa được chương trình.",
        meeting_not_open: "Hội nghị chưa mở phòng chờ hoặc đã kết thúc.",
        item_in_timeline: "Nội dung đã được thảo luận nên không xóa được.",
        agenda_empty: "Chương trình chưa có nội dung nào.",
        agenda_finished: "Đã hết chương trình.",
        too_large: "Tệp vượt quá dung lượng cho phép.",
        unsupported_type: "Loại tệp không được chấp nhận: chỉ PDF, PNG, JPEG và văn bản văn phòng (DOCX, XLSX, PPTX, ODT, ODS, ODP).",
        truncated: "Tải lên bị gián đoạn; chưa lưu gì.",
        storage_failed: "Lưu tài liệu không thành công.",
        meeting_over: "Hội nghị đã kết thúc; không tải tài liệu lên được nữa.",
        superseded: "Tài liệu này đã có phiên bản mới hơn; hãy tải lên thay cho phiên bản mới nhất.",
        not_held: "Tài liệu không ở trạng thái chờ xác nhận.",
        held: "Tài liệu đang chờ thư ký xác nhận.",
        recalled: "Tài liệu đã được thu hồi.",
        unknown_document: "Không tìm thấy tài liệu.",
        unknown_motion: "Không tìm thấy nội dung biểu quyết.",
        illegal_transition: "Không thể chuyển sang trạng thái này từ trạng thái hiện tại.",
        vote_not_open: "Biểu quyết chưa mở.",
        vote_closed: "Biểu quyết đã kết thúc.",
        already_voted: "Đã bỏ phiếu; không thay đổi được.",
        not_eligible: "Không thuộc danh sách biểu quyết.",
        already_final: "Biên bản đã là bản chính thức.",
        nothing_saved: "Chưa lưu biên bản nào.",
        unknown_version: "Không có phiên bản này.",
        invalid: "Dữ liệu không hợp lệ.",
        database_unavailable: "Cơ sở dữ liệu tạm thời không truy cập được.",
      },
    },
    en: {
      app_title: "Secretariat portal",
      to_console: "Operator console",
      lang_switch: "Tiếng Việt",
      logout: "Log out",
      login_title: "Log in",
      login_name: "User name",
      login_password: "Password",
      login_submit: "Log in",
      login_need_name: "Please enter your user name.",
      login_need_password: "Please enter your password.",
      meetings_title: "Pick a meeting",
      meetings_empty: "No meetings.",
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
      act_work: "Prepare",
      back: "Meetings",
      ws_connecting: "Connecting…",
      ws_live: "Live",
      ws_lost: "Connection lost, retrying…",
      ws_closed: "The meeting is not open",
      tab_agenda: "Agenda",
      tab_documents: "Documents",
      tab_votes: "Votes",
      tab_minutes: "Minutes",
      agenda_title: "Agenda",
      agenda_hint: "Drag and drop to reorder.",
      agenda_empty: "No items yet.",
      agenda_add: "Add an item",
      agenda_edit: "Edit item {pos}",
      ag_title: "Title",
      ag_presenter: "Presenter",
      ag_minutes: "Planned time (minutes)",
      ag_minutes_short: "{n} min",
      ag_no_presenter: "no presenter yet",
      ag_current: "Under discussion",
      ag_take_up: "Take up",
      ag_up: "Up",
      ag_down: "Down",
      edit: "Edit",
      delete: "Delete",
      add: "Add",
      save: "Save",
      cancel_edit: "Cancel",
      ag_need_title: "Please enter a title (at most 500 characters).",
      ag_bad_presenter: "The presenter has at most 200 characters.",
      ag_bad_minutes: "Planned time is a whole number of minutes from 1 to 600.",
      ag_added: "Added “{title}”.",
      ag_saved: "Saved “{title}”.",
      ag_deleted: "Deleted “{title}”.",
      ag_reordered: "Agenda reordered.",
      confirm_delete_item: "Delete “{title}” from the agenda?",
      docs_title: "Meeting documents",
      docs_empty: "No documents yet.",
      col_doc: "Document",
      col_version: "Version",
      col_size: "Size",
      col_doc_state: "State",
      doc_available: "Available",
      doc_held: "Awaiting confirmation",
      doc_recalled: "Recalled",
      doc_superseded: "Superseded",
      doc_item: "Item {pos}",
      doc_download: "Download",
      doc_confirm: "Confirm not classified",
      doc_new_version: "New version",
      doc_confirmed: "“{title}” confirmed as ordinary; rooms can read it.",
      confirm_doc: "Confirm “{title}” is an ordinary, unclassified document? Every room will be able to read it.",
      held_hint: "A “MẬT” stamp was found: the document is held until the secretary confirms it.",
      upload_title: "Upload a document",
      up_file: "File (PDF, image, office document)",
      up_choose: "Choose a file…",
      up_no_file: "No file chosen",
      up_doc_title: "Document title",
      up_class: "Classification",
      up_item: "Agenda item",
      up_supersedes: "New version of",
      up_none_item: "— No agenda item —",
      up_none_doc: "— A new document —",
      class_thuong: "Ordinary",
      class_mat: "Confidential (Mật)",
      class_toi_mat: "Secret (Tối mật)",
      class_tuyet_mat: "Top secret (Tuyệt mật)",
      upload: "Upload",
      upload_abort: "Stop",
      up_need_file: "Please choose a file.",
      up_empty_file: "The file is empty.",
      up_need_title: "Please enter a title (at most 300 characters).",
      up_progress: "{pct}% · {loaded} / {total}",
      up_processing: "100% · {total} — the server is checking the file…",
      up_done: "Uploaded “{title}” ({size}).",
      up_done_held: "Uploaded “{title}”; it carries a MẬT stamp and awaits confirmation.",
      up_failed: "The upload failed.",
      up_aborted: "Upload stopped.",
      book_title: "Meeting book at the rooms",
      watch_live: "Watch the live stream",
      book_empty: "No available documents or no rooms yet.",
      book_endpoint: "Room",
      book_count: "Fetched",
      book_total: "Whole book: {n} documents, {size}.",
      votes_title: "Votes",
      motions_empty: "No motions yet.",
      motion_new: "New motion",
      mo_title: "Motion",
      mo_mode: "Mode",
      mo_electorate: "Who votes",
      mo_options: "Options (one per line; empty: Tán thành / Không tán thành / Không biểu quyết)",
      mode_open: "Open vote",
      mode_secret: "Secret ballot",
      el_delegates: "Each delegate",
      el_rooms: "Each room (by headcount)",
      create: "Create",
      mo_need_title: "Please enter the motion (at most 500 characters).",
      mo_bad_options: "Give 2 to 20 distinct options, each at most 200 characters.",
      mo_created: "Created “{title}”.",
      mo_state_draft: "Draft",
      mo_state_open: "Voting",
      mo_state_closed: "Closed",
      mo_state_published: "Published",
      mo_open: "Open the vote",
      mo_close: "Close the vote",
      mo_publish: "Publish results",
      mo_chair_runs: "The meeting's chair opens, closes and publishes the vote.",
      mo_ballots: "Ballots cast: {n}",
      mo_total: "Total votes: {n}",
      mo_secret_hidden: "Secret ballot: results show once closed.",
      mo_hidden: "Results show once published.",
      mo_votes: "{n} votes",
      confirm_close_motion: "Close the vote on “{title}”? Nobody can vote after that.",
      confirm_publish_motion: "Publish the results of “{title}” to every room?",
      minutes_title: "Minutes",
      mi_items: "Summary per agenda item",
      mi_notes: "Proceedings",
      mi_conclusions: "Conclusions",
      mi_save: "Save draft",
      mi_finalise: "Finalise",
      mi_export: "Export",
      mi_pdf: "PDF",
      mi_json: "JSON",
      mi_versions: "Versions",
      mi_versions_empty: "No version saved yet.",
      mi_generated: "Generated draft",
      mi_draft: "Draft version {n}",
      mi_final: "Final version {n}",
      mi_final_hint: "The minutes are final; saving creates a new version.",
      mi_need_conclusions: "Please enter the conclusions (at most 50000 characters).",
      mi_too_long: "Each part has at most 50000 characters.",
      mi_saved: "Minutes saved (version {n}).",
      mi_finalised: "Minutes version {n} finalised.",
      confirm_finalise: "Finalise minutes version {n}? A final version cannot be changed.",
      mi_header: "{kind} · {date}, {start}–{end} · Chair: {chair} · Secretary: {secretary}",
      mi_attendance: "Attendance: {text}",
      mi_attendance_line: "{sites}/{expected} rooms, {people} people (at {at})",
      mi_signatures: "Digital signatures",
      mi_signatures_empty: "No final version to sign yet.",
      mi_signed_line: "Signed — {role}: {signer} ({at})",
      mi_pending_line: "To sign — {role}{name}",
      mi_sealed: "Sealed; the PDF download is the signed copy.",
      role_sig_secretary: "Secretary",
      role_sig_chair: "Chair",
      role_sig_seal: "Organisation's seal",
      mi_motions: "Published vote results",
      mi_no_item_summary: "Summary of the discussion…",
      mi_version_line: "Version {n} · {status} · {by} · {at}",
      status_draft: "draft",
      status_final: "final",
      nobody: "none",
      network_error: "Cannot reach the server. Please try again.",
      err_prefix: "Error",
      done: "Done.",
      cancel: "Cancel",
      confirm: "OK",
      errors: {
        unauthorized: "Not logged in, wrong credentials or the session expired.",
        rate_limited: "Too many failed logins; try again later.",
        csrf: "Invalid session; reload the page and log in again.",
        forbidden: "You may not do this.",
        out_of_scope: "Outside the units you manage.",
        invalid: "Invalid data.",
      },
    },
  };

  // Refusals the server already words in Vietnamese (then English): shown as sent.
  const SERVER_WORDED = new Set(["classified", "pdf_unreadable"]);

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


  const chars = (s) => [...s].length;

  // Meetings are planned in Vietnam's time zone (UTC+07:00).

  // Sizes in MiB, with a decimal comma in Vietnamese.
  function mib(bytes) {
    const n = bytes / 1048576;
    const s = n >= 100 ? n.toFixed(0) : n >= 0.1 ? n.toFixed(1) : n.toFixed(2);
    return `${lang === "vi" ? s.replace(".", ",") : s} MiB`;
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

  // The server's refusal, in the chosen language: a known code gets its
  // Vietnamese sentence, the server's own message follows for detail.
  function errorText(e) {
    if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
    if (e.code === "network") return e.message;
    if (SERVER_WORDED.has(e.code)) return inLanguage(e.message);
    const known = DICT[lang].errors[e.code] || (lang === "en" ? null : DICT.vi.errors[e.code]);
    const field = e.field ? ` [${e.field}]` : "";
    if (known) return `${known}${field} (${e.message})`;
    return `${t("err_prefix")} ${e.status}${field}: ${e.message}`;
  }

  // A message the server words in both languages ("Vietnamese. English."):
  // the sentences of the chosen language, or all of it when unsure.
  const VI_LETTERS = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹàáèéìíòóùúýĩõũ]/i;
  function inLanguage(text) {
    const sentences = text.split(/(?<=\.)\s+/);
    const isVi = (s) => {
      const words = s.split(/\s+/).filter(Boolean);
      return words.filter((w) => VI_LETTERS.test(w)).length >= words.length * 0.25;
    };
    const picked = sentences.filter((s) => isVi(s) === (lang === "vi"));
    return picked.length > 0 ? picked.join(" ") : text;
  }

  // ------------------------------------------------------------ toasts, confirm
  function toast(text, kind) {
    const box = el("div", { class: `toast toast-${kind || "info"}`, role: kind === "error" ? "alert" : "status", text });
    $("toasts").append(box);
    while ($("toasts").children.length > 3) $("toasts").firstChild.remove();
    setTimeout(() => box.remove(), kind === "error" ? 9000 : 3500);
    log("toast", kind || "info", text);
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

  // A form's error line and the field it is about.
  function formError(boxId, text, input) {
    const box = $(boxId);
    box.textContent = text;
    box.hidden = false;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
    return false;
  }
  function clearFormError(boxId, form) {
    $(boxId).hidden = true;
    for (const i of $(form).querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  }
  // A server refusal in the form's error line, marking the named field.
  function formRefusal(boxId, e, fields) {
    const input = e instanceof ApiError && e.field && fields[e.field] ? $(fields[e.field]) : null;
    formError(boxId, errorText(e), input);
    if (e instanceof ApiError && e.status === 401) showLogin();
  }

  // ------------------------------------------------------------ routing
  const TABS = ["agenda", "documents", "votes", "minutes"];
  function route() {
    const m = location.pathname.match(/^\/portal\/meetings\/([^/]+)(?:\/([a-z]+))?\/?$/);
    if (!m) return { view: "meetings" };
    return { view: "meeting", id: decodeURIComponent(m[1]), tab: TABS.includes(m[2]) ? m[2] : "agenda" };
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
    $("meetings-body").replaceChildren();
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
    clearFormError("login-error", "login-form");
    if (!name) return formError("login-error", t("login_need_name"), $("login-name"));
    if (!password) return formError("login-error", t("login_need_password"), $("login-password"));
    $("login-submit").disabled = true;
    try {
      const answer = await api("POST", "/api/v1/auth/login", { name, password });
      me = answer.user;
      csrf = answer.csrf;
      $("login-password").value = "";
      log("logged in", me.login);
      render();
    } catch (e) {
      formError("login-error", errorText(e));
    } finally {
      $("login-submit").disabled = false;
    }
  });

  $("btn-logout").addEventListener("click", () =>
    act($("btn-logout"), async () => {
      try {
        await api("POST", "/api/v1/auth/logout", {});
      } finally {
        history.pushState(null, "", "/portal");
        showLogin();
      }
    })
  );

  // ------------------------------------------------------------ meetings
  function stateBadge(state) {
    return el("span", { class: `badge badge-${state}`, text: t(`state_${state}`) });
  }

  let meetingsCache = [];
  async function showMeetings() {
    showOnly("view-meetings");
    $("crumbs").textContent = t("meetings_title");
    // The secretariat prepares ahead and writes minutes after: a month back.
    const from = startOfVnToday() - 31 * 86400000;
    const list = await act(null, () => api("GET", `/api/v1/meetings?from_ms=${from}&limit=200`));
    if (!list) return;
    meetingsCache = list.meetings || [];
    drawMeetings();
  }

  function drawMeetings() {
    const body = $("meetings-body");
    body.replaceChildren();
    $("meetings-empty").hidden = meetingsCache.length > 0;
    for (const m of meetingsCache) {
      const href = `/portal/meetings/${encodeURIComponent(m.id)}`;
      const link = el("a", {
        class: "btn btn-small btn-primary",
        href,
        "data-action": "work",
        text: t("act_work"),
        onclick: (ev) => {
          ev.preventDefault();
          go(href);
        },
      });
      body.append(
        el(
          "tr",
          { dataset: { meeting: m.id, state: m.state } },
          el("td", { class: "time", text: vnTime(m.starts_at_ms) }),
          el("td", {}, el("div", { class: "m-title", text: m.title }), el("div", { class: "m-kind", text: m.kind })),
          el("td", {}, stateBadge(m.state)),
          el("td", {}, el("div", { class: "actions" }, link))
        )
      );
    }
  }
  $("btn-refresh").addEventListener("click", () => showMeetings());

  // ------------------------------------------------------------ one meeting
  // Everything known about the open meeting; replaced when another opens.
  let cur = null;
  const base = () => `/api/v1/meetings/${encodeURIComponent(cur.id)}`;

  function closeMeeting() {
    if (!cur) return;
    cur.closed = true;
    clearTimeout(cur.retry);
    clearInterval(cur.poll);
    if (cur.ws) {
      cur.ws.onclose = null;
      cur.ws.close();
    }
    if (upload.xhr) upload.xhr.abort();
    cur = null;
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
      agenda: { items: [], current: null, timeline: [] },
      docs: [],
      book: null,
      participants: [],
      motions: [],
      minutes: null,
      versions: [],
      editing: null,
    };
    cur = mine;
    showOnly("view-meeting");
    showTab(tab);
    drawCrumbs();
    const m = await act(null, () => api("GET", base()));
    if (!m || mine.closed) return;
    mine.meeting = m;
    drawHead();
    await Promise.all([loadAgenda(), loadDocs(), loadMotions(), loadMinutes()]);
    if (mine.closed) return;
    connectEvents(mine);
    // While the event stream is down, the vote counts are polled.
    mine.poll = setInterval(() => {
      if (mine.closed) return;
      if (!mine.ws || mine.ws.readyState !== WebSocket.OPEN) loadMotions();
      if (mine.tab === "documents") loadBook();
    }, 5000);
  }

  function drawCrumbs() {
    const c = $("crumbs");
    c.replaceChildren(
      el("a", {
        href: "/portal",
        text: t("back"),
        onclick: (ev) => {
          ev.preventDefault();
          go("/portal");
        },
      })
    );
    if (cur && cur.meeting) c.append(" › ", cur.meeting.title);
  }

  function drawHead() {
    if (!cur || !cur.meeting) return;
    const m = cur.meeting;
    $("m-title").textContent = m.title;
    const b = $("m-state");
    b.className = `badge badge-${m.state}`;
    b.textContent = t(`state_${m.state}`);
    $("m-time").textContent = `${vnTime(m.starts_at_ms)} – ${vnTime(m.ends_at_ms).slice(0, 5)}`;
    // The internal live stream's player (it says itself when the meeting
    // is not streaming).
    const watch = $("m-watch");
    watch.hidden = m.state !== "live";
    watch.href = `/live/${encodeURIComponent(m.id)}`;
    drawCrumbs();
  }

  function showTab(tab) {
    if (cur) cur.tab = tab;
    for (const b of document.querySelectorAll(".tab")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    for (const name of TABS) $(`pane-${name}`).hidden = name !== tab;
    document.body.dataset.tab = tab;
    if (cur && tab === "documents" && cur.meeting) loadBook();
    if (cur && tab === "minutes" && cur.meeting) loadMinutes();
  }
  for (const b of document.querySelectorAll(".tab")) {
    b.addEventListener("click", () => {
      if (!cur) return;
      history.pushState(null, "", `/portal/meetings/${encodeURIComponent(cur.id)}/${b.dataset.tab}`);
      showTab(b.dataset.tab);
    });
  }

  // ------------------------------------------------------------ live events
  function setConn(state) {
    $("m-conn").dataset.state = state;
    $("m-conn-text").textContent = t({ live: "ws_live", lost: "ws_lost", closed: "ws_closed" }[state] || "ws_connecting");
  }

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

  function onEvent(mine, msg) {
    switch (msg.type) {
      case "snapshot":
        setConn("live");
        // Changes between the first reads and this subscription (or while
        // the link was down) came as events nobody heard: read again.
        loadAgenda();
        loadDocs();
        loadMotions();
        break;
      case "agenda_changed":
        mine.agenda.items = msg.items || [];
        drawAgenda();
        break;
      case "agenda_current":
        loadAgenda();
        break;
      case "meeting_state":
        api("GET", base())
          .then((m) => {
            if (mine.closed) return;
            mine.meeting = m;
            drawHead();
          })
          .catch(() => {});
        break;
      case "motion":
        if (msg.motion) {
          upsertMotion(msg.motion);
          // The event carries no counts before publication; a manager may
          // see an open vote's live counts, so ask for them.
          refreshMotion(msg.motion.id);
        }
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------ agenda
  async function loadAgenda() {
    const mine = cur;
    const a = await act(null, () => api("GET", `${base()}/agenda`));
    if (!a || mine !== cur) return;
    mine.agenda = a;
    drawAgenda();
  }

  let dragId = null;
  function drawAgenda() {
    if (!cur) return;
    const list = $("agenda-list");
    list.replaceChildren();
    const items = cur.agenda.items || [];
    $("agenda-empty").hidden = items.length > 0;
    const currentId = cur.agenda.current ? cur.agenda.current.item_id : null;
    const live = cur.meeting && (cur.meeting.state === "open" || cur.meeting.state === "live");
    items.forEach((it, i) => {
      const isCurrent = it.id === currentId;
      const li = el(
        "li",
        { class: "ag-item", draggable: "true", dataset: { item: it.id, current: String(isCurrent) } },
        el("span", { class: "ag-handle", "aria-hidden": "true", text: "⋮⋮" }),
        el("span", { class: "ag-pos", text: `${i + 1}.` }),
        el(
          "div",
          { class: "ag-body" },
          el("div", { class: "ag-title", text: it.title }),
          el(
            "div",
            { class: "ag-meta" },
            `${it.presenter || t("ag_no_presenter")} · ${t("ag_minutes_short", { n: it.planned_minutes })} `,
            isCurrent ? el("span", { class: "tb-current", text: t("ag_current") }) : null
          )
        ),
        el(
          "div",
          { class: "ag-actions" },
          el("button", { class: "btn btn-small", type: "button", title: t("ag_up"), "aria-label": t("ag_up"), disabled: i === 0, text: "↑", onclick: (e) => moveItem(e.currentTarget, it.id, -1) }),
          el("button", { class: "btn btn-small", type: "button", title: t("ag_down"), "aria-label": t("ag_down"), disabled: i === items.length - 1, text: "↓", onclick: (e) => moveItem(e.currentTarget, it.id, 1) }),
          live && !isCurrent ? el("button", { class: "btn btn-small", type: "button", "data-action": "current", text: t("ag_take_up"), onclick: (e) => takeUp(e.currentTarget, it) }) : null,
          el("button", { class: "btn btn-small", type: "button", "data-action": "edit", text: t("edit"), onclick: () => editItem(it) }),
          el("button", { class: "btn btn-small btn-danger", type: "button", "data-action": "delete", text: t("delete"), onclick: (e) => deleteItem(e.currentTarget, it) })
        )
      );
      li.addEventListener("dragstart", (ev) => {
        dragId = it.id;
        li.classList.add("dragging");
        if (ev.dataTransfer) {
          ev.dataTransfer.effectAllowed = "move";
          try {
            ev.dataTransfer.setData("text/plain", it.id);
          } catch (_) {
            /* some browsers refuse data on synthetic events */
          }
        }
      });
      li.addEventListener("dragend", () => {
        dragId = null;
        for (const x of list.children) x.classList.remove("dragging", "drop-before", "drop-after");
      });
      li.addEventListener("dragover", (ev) => {
        if (!dragId || dragId === it.id) return;
        ev.preventDefault();
        if (ev.dataTransfer) ev.dataTransfer.dropEffect = "move";
        const after = dropAfter(li, ev);
        li.classList.toggle("drop-after", after);
        li.classList.toggle("drop-before", !after);
      });
      li.addEventListener("dragleave", () => li.classList.remove("drop-before", "drop-after"));
      li.addEventListener("drop", (ev) => {
        ev.preventDefault();
        const moving = dragId || (ev.dataTransfer && ev.dataTransfer.getData("text/plain"));
        const after = dropAfter(li, ev);
        li.classList.remove("drop-before", "drop-after");
        dragId = null;
        if (!moving || moving === it.id) return;
        const order = items.map((x) => x.id).filter((x) => x !== moving);
        let at = order.indexOf(it.id);
        if (after) at += 1;
        order.splice(at, 0, moving);
        reorder(order);
      });
      list.append(li);
    });
    fillItemSelect();
  }

  // Whether a drop lands after `li` (pointer in its lower half).
  function dropAfter(li, ev) {
    const r = li.getBoundingClientRect();
    return typeof ev.clientY === "number" && ev.clientY > r.top + r.height / 2;
  }

  async function reorder(order) {
    if (!cur) return;
    const mine = cur;
    const before = mine.agenda.items;
    // Shown at once; the server's answer (or a reload on refusal) follows.
    const byId = new Map(before.map((x) => [x.id, x]));
    mine.agenda.items = order.map((id) => byId.get(id)).filter(Boolean);
    drawAgenda();
    try {
      const a = await api("POST", `${base()}/agenda/order`, { order });
      if (mine !== cur) return;
      mine.agenda = a;
      drawAgenda();
      toast(t("ag_reordered"), "ok");
    } catch (e) {
      toast(errorText(e), "error");
      if (e instanceof ApiError && e.status === 401) return showLogin();
      loadAgenda();
    }
  }

  function moveItem(button, id, by) {
    const order = cur.agenda.items.map((x) => x.id);
    const i = order.indexOf(id);
    const j = i + by;
    if (i < 0 || j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j], order[i]];
    reorder(order);
  }

  async function takeUp(button, it) {
    const a = await act(button, () => api("POST", `${base()}/agenda/current`, { item_id: it.id }));
    if (a && cur) {
      cur.agenda = a;
      drawAgenda();
    }
  }

  function editItem(it) {
    cur.editing = it.id;
    const pos = cur.agenda.items.findIndex((x) => x.id === it.id) + 1;
    $("agenda-form-title").textContent = t("agenda_edit", { pos });
    $("ag-title").value = it.title;
    $("ag-presenter").value = it.presenter;
    $("ag-minutes").value = String(it.planned_minutes);
    $("ag-submit").textContent = t("save");
    $("ag-cancel").hidden = false;
    clearFormError("agenda-error", "agenda-form");
    $("ag-title").focus();
  }

  function resetAgendaForm() {
    if (cur) cur.editing = null;
    $("agenda-form-title").textContent = t("agenda_add");
    $("ag-title").value = "";
    $("ag-presenter").value = "";
    $("ag-minutes").value = "15";
    $("ag-submit").textContent = t("add");
    $("ag-cancel").hidden = true;
    clearFormError("agenda-error", "agenda-form");
  }
  $("ag-cancel").addEventListener("click", resetAgendaForm);

  async function deleteItem(button, it) {
    if (!(await confirmBox(t("confirm_delete_item", { title: it.title })))) return;
    const ok = await act(button, () => api("DELETE", `${base()}/agenda/${encodeURIComponent(it.id)}`));
    if (ok === undefined) return;
    toast(t("ag_deleted", { title: it.title }), "ok");
    if (cur && cur.editing === it.id) resetAgendaForm();
    loadAgenda();
  }

  $("agenda-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!cur) return;
    clearFormError("agenda-error", "agenda-form");
    const title = $("ag-title").value.trim();
    const presenter = $("ag-presenter").value.trim();
    const minutesText = $("ag-minutes").value.trim();
    const minutes = Number(minutesText);
    if (!title || chars(title) > 500) return formError("agenda-error", t("ag_need_title"), $("ag-title"));
    if (chars(presenter) > 200) return formError("agenda-error", t("ag_bad_presenter"), $("ag-presenter"));
    if (!/^\d+$/.test(minutesText) || minutes < 1 || minutes > 600) return formError("agenda-error", t("ag_bad_minutes"), $("ag-minutes"));
    const body = { title, presenter, planned_minutes: minutes };
    const editing = cur.editing;
    $("ag-submit").disabled = true;
    try {
      if (editing) await api("PATCH", `${base()}/agenda/${encodeURIComponent(editing)}`, body);
      else await api("POST", `${base()}/agenda`, body);
      toast(t(editing ? "ag_saved" : "ag_added", { title }), "ok");
      resetAgendaForm();
      // Not awaited: the item is saved, so the form is free for the next
      // one while the list refreshes (the event stream may already have).
      loadAgenda();
    } catch (e) {
      formRefusal("agenda-error", e, { title: "ag-title", presenter: "ag-presenter", planned_minutes: "ag-minutes" });
    } finally {
      $("ag-submit").disabled = false;
    }
  });

  // ------------------------------------------------------------ documents
  const CLASSES = ["thuong", "mat", "toi_mat", "tuyet_mat"];

  async function loadDocs() {
    const mine = cur;
    const d = await act(null, () => api("GET", `${base()}/documents`));
    if (!d || mine !== cur) return;
    mine.docs = d.documents || [];
    drawDocs();
  }

  function itemLabel(id) {
    if (!cur || !id) return null;
    const i = cur.agenda.items.findIndex((x) => x.id === id);
    return i < 0 ? null : `${t("doc_item", { pos: i + 1 })}: ${cur.agenda.items[i].title}`;
  }

  function drawDocs() {
    if (!cur) return;
    const body = $("docs-body");
    body.replaceChildren();
    // Each lineage together, newest version first.
    const docs = [...cur.docs].sort((a, b) =>
      a.lineage_id === b.lineage_id ? b.version - a.version : a.uploaded_at_ms - b.uploaded_at_ms || a.lineage_id.localeCompare(b.lineage_id)
    );
    const firstAt = new Map();
    for (const d of cur.docs) if (d.version === 1) firstAt.set(d.lineage_id, d.uploaded_at_ms);
    docs.sort((a, b) => (firstAt.get(a.lineage_id) || 0) - (firstAt.get(b.lineage_id) || 0) || a.lineage_id.localeCompare(b.lineage_id) || b.version - a.version);
    $("docs-empty").hidden = docs.length > 0;
    for (const d of docs) {
      const url = `${base()}/documents/${encodeURIComponent(d.id)}/content`;
      const states = [el("span", { class: `badge badge-${d.state}`, text: t(`doc_${d.state}`) })];
      if (d.superseded_by) states.push(" ", el("span", { class: "badge badge-superseded", text: t("doc_superseded") }));
      const actions = el("div", { class: "actions" });
      if (d.state !== "recalled") actions.append(el("a", { class: "btn btn-small", href: url, download: "", "data-action": "download", text: t("doc_download") }));
      if (d.state === "held")
        actions.append(el("button", { class: "btn btn-small btn-primary", type: "button", "data-action": "confirm", title: t("held_hint"), text: t("doc_confirm"), onclick: (e) => confirmDoc(e.currentTarget, d) }));
      if (!d.superseded_by && d.state !== "recalled")
        actions.append(el("button", { class: "btn btn-small", type: "button", "data-action": "new-version", text: t("doc_new_version"), onclick: () => newVersionOf(d) }));
      const sub = [d.kind, d.classification === "thuong" ? t("class_thuong") : d.classification, itemLabel(d.agenda_item_id), vnTime(d.uploaded_at_ms)].filter(Boolean).join(" · ");
      body.append(
        el(
          "tr",
          { dataset: { doc: d.id, state: d.state, version: String(d.version) } },
          el("td", {}, el("div", { class: "doc-title", text: d.title }), el("div", { class: "doc-sub", text: sub }), DiemcauCommon.signatureBadges(d.signatures, lang)),
          el("td", { text: `v${d.version}` }),
          el("td", { class: "time", text: mib(d.size_bytes) }),
          el("td", { class: "mono", title: d.sha256, text: d.sha256.slice(0, 12) }),
          el("td", {}, ...states),
          el("td", {}, actions)
        )
      );
    }
    fillDocSelect();
  }

  function fillItemSelect() {
    const sel = $("up-item");
    const keep = sel.value;
    sel.replaceChildren(el("option", { value: "", text: t("up_none_item") }));
    if (cur) cur.agenda.items.forEach((it, i) => sel.append(el("option", { value: it.id, text: `${i + 1}. ${it.title}` })));
    sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
  }

  function fillDocSelect() {
    const sel = $("up-supersedes");
    const keep = sel.value;
    sel.replaceChildren(el("option", { value: "", text: t("up_none_doc") }));
    if (cur) for (const d of cur.docs) if (!d.superseded_by && d.state !== "recalled") sel.append(el("option", { value: d.id, text: `${d.title} (v${d.version})` }));
    sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
  }

  function fillClassSelect() {
    const sel = $("up-class");
    const keep = sel.value || "thuong";
    sel.replaceChildren(...CLASSES.map((c) => el("option", { value: c, text: t(`class_${c}`) })));
    sel.value = keep;
  }

  function newVersionOf(d) {
    $("up-supersedes").value = d.id;
    $("up-title").value = d.title;
    if (d.agenda_item_id) $("up-item").value = d.agenda_item_id;
    $("up-file").focus();
  }

  async function confirmDoc(button, d) {
    if (!(await confirmBox(t("confirm_doc", { title: d.title })))) return;
    const done = await act(button, () => api("POST", `${base()}/documents/${encodeURIComponent(d.id)}/confirm`));
    if (!done) return;
    toast(t("doc_confirmed", { title: d.title }), "ok");
    loadDocs();
    loadBook();
  }

  // The upload in flight, and what its progress bar showed (test hook).
  const upload = { xhr: null, trace: [], max: 0, state: "idle", total: 0, result: null };

  function drawFileName() {
    const f = $("up-file").files[0];
    $("up-file-name").textContent = f ? `${f.name} (${mib(f.size)})` : t("up_no_file");
  }
  $("up-file").addEventListener("change", () => {
    drawFileName();
    const f = $("up-file").files[0];
    if (f && !$("up-title").value.trim()) $("up-title").value = f.name.replace(/\.[^.]+$/, "");
  });

  function setProgress(loaded, total, text) {
    const pct = total > 0 ? Math.min(100, Math.floor((loaded * 100) / total)) : 0;
    $("up-bar").style.width = `${pct}%`;
    $("up-bar").setAttribute("aria-valuenow", String(pct));
    $("up-progress-text").textContent = text || t("up_progress", { pct, loaded: mib(loaded), total: mib(total) });
    upload.trace.push(pct);
    if (upload.trace.length > 500) upload.trace.shift();
    upload.max = Math.max(upload.max, pct);
  }

  $("upload-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!cur || upload.xhr) return;
    clearFormError("upload-error", "upload-form");
    const file = $("up-file").files[0];
    const title = $("up-title").value.trim();
    if (!file) return formError("upload-error", t("up_need_file"), $("up-file"));
    if (file.size === 0) return formError("upload-error", t("up_empty_file"), $("up-file"));
    if (!title || chars(title) > 300) return formError("upload-error", t("up_need_title"), $("up-title"));
    const q = new URLSearchParams({ title, classification: $("up-class").value });
    if ($("up-item").value) q.set("agenda_item_id", $("up-item").value);
    if ($("up-supersedes").value) q.set("supersedes", $("up-supersedes").value);
    const mine = cur;
    const xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    upload.trace = [];
    upload.max = 0;
    upload.state = "uploading";
    upload.total = file.size;
    upload.result = null;
    const box = $("up-progress");
    box.hidden = false;
    box.dataset.state = "uploading";
    setProgress(0, file.size);
    $("up-submit").disabled = true;
    $("up-abort").hidden = false;
    const finish = (state) => {
      upload.xhr = null;
      upload.state = state;
      box.dataset.state = state;
      $("up-submit").disabled = false;
      $("up-abort").hidden = true;
    };
    xhr.open("POST", `${base()}/documents?${q}`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) setProgress(e.loaded, e.total);
    };
    xhr.upload.onload = () => setProgress(file.size, file.size, t("up_processing", { total: mib(file.size) }));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        let d = null;
        try {
          d = JSON.parse(xhr.responseText);
        } catch (_) {
          d = null;
        }
        finish("done");
        upload.result = d;
        setProgress(file.size, file.size);
        if (d && d.state === "held") toast(t("up_done_held", { title }), "info");
        else toast(t("up_done", { title, size: mib(file.size) }), "ok");
        $("up-file").value = "";
        drawFileName();
        $("up-title").value = "";
        $("up-supersedes").value = "";
        if (mine === cur) {
          loadDocs();
          loadBook();
        }
      } else {
        finish("failed");
        $("up-progress-text").textContent = t("up_failed");
        const e = parseError(xhr.status, xhr.responseText, xhr.statusText);
        upload.result = { error: e.code, message: e.message };
        formRefusal("upload-error", e, { title: "up-title", classification: "up-class", agenda_item_id: "up-item", supersedes: "up-supersedes" });
      }
    };
    xhr.onerror = () => {
      finish("failed");
      $("up-progress-text").textContent = t("up_failed");
      formError("upload-error", `${t("up_failed")} ${t("network_error")}`);
    };
    xhr.onabort = () => {
      finish("failed");
      $("up-progress-text").textContent = t("up_aborted");
      formError("upload-error", t("up_aborted"));
    };
    log("upload", title, file.size);
    xhr.send(file);
  });
  $("up-abort").addEventListener("click", () => {
    if (upload.xhr) upload.xhr.abort();
  });

  async function loadBook() {
    if (!cur || !cur.meeting) return;
    const mine = cur;
    try {
      const [book, parts] = await Promise.all([api("GET", `${base()}/book`), api("GET", `${base()}/participants`)]);
      if (mine !== cur) return;
      mine.book = book;
      mine.participants = parts.participants || [];
      drawBook();
    } catch (e) {
      log("book", errorText(e));
    }
  }

  function drawBook() {
    const box = $("book");
    box.replaceChildren();
    if (!cur || !cur.book) return;
    const docs = cur.book.documents || [];
    const eps = cur.participants;
    if (docs.length === 0 || eps.length === 0) {
      box.append(el("div", { class: "empty", text: t("book_empty") }));
      return;
    }
    const head = el("tr", {}, el("th", { text: t("book_endpoint") }), ...docs.map((d) => el("th", { title: d.title, text: `${d.title.length > 18 ? d.title.slice(0, 17) + "…" : d.title} v${d.version}` })), el("th", { text: t("book_count") }));
    const rows = eps.map((p) => {
      let n = 0;
      const cells = docs.map((d) => {
        const has = (d.fetched_by || []).includes(p.endpoint_id);
        if (has) n += 1;
        return el("td", { class: has ? "tick" : "no", text: has ? "✓" : "—" });
      });
      return el("tr", { dataset: { endpoint: p.endpoint_id } }, el("td", { text: p.endpoint_name }), ...cells, el("td", { text: `${n}/${docs.length}` }));
    });
    box.append(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)), el("p", { class: "hint", text: t("book_total", { n: docs.length, size: mib(cur.book.total_bytes) }) }));
  }

  // ------------------------------------------------------------ votes
  async function loadMotions() {
    const mine = cur;
    if (!mine) return;
    try {
      const l = await api("GET", `${base()}/motions`);
      if (mine !== cur) return;
      mine.motions = l.motions || [];
      drawMotions();
    } catch (e) {
      log("motions", errorText(e));
    }
  }

  function upsertMotion(m) {
    if (!cur || m.meeting_id !== cur.id) return;
    const i = cur.motions.findIndex((x) => x.id === m.id);
    if (i < 0) cur.motions.push(m);
    else {
      // An event without counts keeps the counts already known until the
      // manager's own read replaces them.
      const old = cur.motions[i];
      cur.motions[i] = m.results || m.state === old.state ? { ...m, results: m.results || old.results } : m;
    }
    cur.motions.sort((a, b) => a.position - b.position);
    drawMotions();
  }

  async function refreshMotion(id) {
    if (!cur) return;
    const mine = cur;
    try {
      const m = await api("GET", `${base()}/motions/${encodeURIComponent(id)}`);
      if (mine !== cur) return;
      const i = mine.motions.findIndex((x) => x.id === m.id);
      if (i < 0) mine.motions.push(m);
      else mine.motions[i] = m;
      drawMotions();
      if (m.state === "published" && mine.tab === "minutes") loadMinutes();
    } catch (e) {
      log("motion", errorText(e));
    }
  }

  function bars(results) {
    const total = results.total_votes || 0;
    return el(
      "div",
      { class: "bars" },
      ...results.options.map((o) => {
        const pct = total > 0 ? Math.round((o.votes * 1000) / total) / 10 : 0;
        return el(
          "div",
          { class: "bar-row", dataset: { option: String(o.index), votes: String(o.votes) } },
          el("span", { class: "bar-label", text: o.label }),
          el("div", { class: "bar-track" }, el("div", { class: "bar-fill", style: `width:${pct}%` })),
          el("span", { class: "bar-num", text: `${o.votes} (${lang === "vi" ? String(pct).replace(".", ",") : pct}%)` })
        );
      }),
      el("div", { class: "mo-meta", text: t("mo_total", { n: total }) })
    );
  }

  /** May the logged-in person open, close and publish this meeting's votes? */
  function runsVotes() {
    if (!me || !cur || !cur.meeting) return false;
    const roles = me.roles || [];
    return cur.meeting.chair_user_id === me.id || roles.some((r) => r === "admin" || r === "operator" || r === "sub_operator");
  }

  function drawMotions() {
    if (!cur) return;
    const box = $("motions");
    box.replaceChildren();
    $("motions-empty").hidden = cur.motions.length > 0;
    for (const m of cur.motions) {
      // Opening, closing and publishing a vote is the chair's (or the
      // meeting's operators'); the secretariat prepares it and follows it.
      const step = runsVotes() ? { draft: ["open", "mo_open"], open: ["close", "mo_close"], closed: ["publish", "mo_publish"] }[m.state] : null;
      const card = el(
        "article",
        { class: "motion", dataset: { motion: m.id, state: m.state, ballots: String(m.ballots_cast) } },
        el(
          "div",
          { class: "mo-head" },
          el("span", { class: "mo-title", text: `${m.position}. ${m.title}` }),
          el("span", { class: `badge badge-${m.state}`, text: t(`mo_state_${m.state}`) }),
          step ? el("button", { class: `btn btn-small ${m.state === "closed" ? "btn-primary" : m.state === "open" ? "btn-danger" : "btn-primary"}`, type: "button", "data-action": step[0], text: t(step[1]), onclick: (e) => motionStep(e.currentTarget, m, step[0]) }) : null
        ),
        el("div", { class: "mo-meta", text: `${t(`mode_${m.mode}`)} · ${t(`el_${m.electorate}`)} · ${m.options.join(" / ")}` }),
        el("div", { class: "mo-ballots", text: t("mo_ballots", { n: m.ballots_cast }) }),
        !runsVotes() && m.state !== "published" ? el("div", { class: "mo-meta mo-chair-hint", text: t("mo_chair_runs") }) : null,
        m.results ? bars(m.results) : m.state !== "draft" ? el("div", { class: "mo-meta", text: t(m.mode === "secret" ? "mo_secret_hidden" : "mo_hidden") }) : null
      );
      box.append(card);
    }
  }

  async function motionStep(button, m, verb) {
    if (verb === "close" && !(await confirmBox(t("confirm_close_motion", { title: m.title })))) return;
    if (verb === "publish" && !(await confirmBox(t("confirm_publish_motion", { title: m.title })))) return;
    const r = await act(button, () => api("POST", `${base()}/motions/${encodeURIComponent(m.id)}/${verb}`));
    if (!r || !cur) return;
    const i = cur.motions.findIndex((x) => x.id === r.id);
    if (i >= 0) cur.motions[i] = r;
    drawMotions();
  }

  function fillMotionSelects() {
    const mode = $("mo-mode");
    const keepMode = mode.value || "open";
    mode.replaceChildren(el("option", { value: "open", text: t("mode_open") }), el("option", { value: "secret", text: t("mode_secret") }));
    mode.value = keepMode;
    const elec = $("mo-electorate");
    const keepElec = elec.value || "delegates";
    elec.replaceChildren(el("option", { value: "delegates", text: t("el_delegates") }), el("option", { value: "rooms", text: t("el_rooms") }));
    elec.value = keepElec;
  }

  $("motion-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!cur) return;
    clearFormError("motion-error", "motion-form");
    const title = $("mo-title").value.trim();
    if (!title || chars(title) > 500) return formError("motion-error", t("mo_need_title"), $("mo-title"));
    const options = $("mo-options")
      .value.split("\n")
      .map((s) => s.trim())
      .filter(Boolean);
    if (options.length > 0 && (options.length < 2 || options.length > 20 || new Set(options).size !== options.length || options.some((o) => chars(o) > 200)))
      return formError("motion-error", t("mo_bad_options"), $("mo-options"));
    const body = { title, mode: $("mo-mode").value, electorate: $("mo-electorate").value };
    if (options.length > 0) body.options = options;
    $("mo-submit").disabled = true;
    try {
      const m = await api("POST", `${base()}/motions`, body);
      toast(t("mo_created", { title }), "ok");
      $("mo-title").value = "";
      $("mo-options").value = "";
      if (cur) upsertMotion(m);
    } catch (e) {
      formRefusal("motion-error", e, { title: "mo-title", options: "mo-options", mode: "mo-mode", electorate: "mo-electorate" });
    } finally {
      $("mo-submit").disabled = false;
    }
  });

  // ------------------------------------------------------------ minutes
  async function loadMinutes() {
    if (!cur) return;
    const mine = cur;
    try {
      const [v, versions, signatures] = await Promise.all([
        api("GET", `${base()}/minutes`),
        api("GET", `${base()}/minutes/versions`),
        api("GET", `${base()}/minutes/signatures`),
      ]);
      if (mine !== cur) return;
      // Text being typed is not overwritten by a refresh.
      const typing = mine.minutes && mine.minutesDirty;
      mine.minutes = v;
      mine.versions = versions.versions || [];
      mine.signatures = signatures;
      drawMinutes(!typing);
    } catch (e) {
      toast(errorText(e), "error");
      if (e instanceof ApiError && e.status === 401) showLogin();
    }
  }

  function drawMinutes(fill) {
    if (!cur || !cur.minutes) return;
    const v = cur.minutes;
    const m = v.minutes;
    const status = $("mi-status");
    status.className = `badge badge-${v.status}`;
    status.dataset.status = v.status;
    status.textContent = v.status === "generated" ? t("mi_generated") : t(v.status === "final" ? "mi_final" : "mi_draft", { n: v.version });
    const h = m.header;
    const head = $("mi-header");
    head.replaceChildren(
      el("div", { text: t("mi_header", { kind: h.kind_label, date: h.local_date, start: h.local_start, end: h.local_end, chair: h.chair || t("nobody"), secretary: h.secretary || t("nobody") }) })
    );
    if (m.attendance) head.append(el("div", { text: t("mi_attendance", { text: attendanceText(m.attendance) }) }));
    if (v.status === "final") head.append(el("div", { class: "form-error", text: t("mi_final_hint") }));
    const items = $("mi-items");
    const typed = new Map([...items.querySelectorAll("textarea")].map((x) => [x.dataset.item, x.value]));
    items.replaceChildren(
      ...m.agenda.map((it) => {
        const area = el("textarea", { rows: "2", dataset: { item: it.item_id }, placeholder: t("mi_no_item_summary"), oninput: () => (cur.minutesDirty = true) });
        area.value = fill ? it.summary || "" : typed.get(it.item_id) ?? it.summary ?? "";
        const periods = it.periods.map((p) => `${p.local_start}–${p.local_end || "…"}`).join(", ");
        return el("div", { class: "mi-item" }, el("div", { class: "mi-item-title", text: `${it.position}. ${it.title}${it.presenter ? ` — ${it.presenter}` : ""}${periods ? ` (${periods})` : ""}` }), area);
      })
    );
    const motions = $("mi-motions");
    motions.replaceChildren();
    if (m.motions.length > 0) {
      motions.append(el("h3", { text: t("mi_motions") }));
      for (const mo of m.motions)
        motions.append(
          el("div", { class: "mi-item" }, el("div", { class: "mi-item-title", text: `${mo.position}. ${mo.title}` }), bars({ total_votes: mo.total_votes, options: mo.options.map((o, i) => ({ index: i, label: o.label, votes: o.votes })) }))
        );
    }
    if (fill) {
      $("mi-notes").value = m.notes || "";
      $("mi-conclusions").value = m.conclusions || "";
      cur.minutesDirty = false;
    }
    $("mi-finalise").disabled = v.status !== "draft";
    drawSignatures();
    $("mi-pdf").href = `${base()}/minutes?format=pdf`;
    $("mi-json").href = `${base()}/minutes?format=json`;
    const list = $("mi-versions");
    list.replaceChildren();
    $("mi-versions-empty").hidden = cur.versions.length > 0;
    for (const x of [...cur.versions].reverse()) {
      const vb = `${base()}/minutes/versions/${x.version}`;
      list.append(
        el(
          "li",
          { dataset: { version: String(x.version), status: x.status } },
          t("mi_version_line", { n: x.version, status: t(`status_${x.status}`), by: me && x.saved_by === me.id ? me.display_name || me.login : x.saved_by, at: vnTime(x.saved_at_ms) }),
          " ",
          el("a", { href: `${vb}?format=pdf`, target: "_blank", rel: "noopener", text: "PDF" }),
          " ",
          el("a", { href: `${vb}?format=json`, target: "_blank", rel: "noopener", text: "JSON" })
        )
      );
    }
  }

  /** Who has signed the final minutes and who is still to sign. */
  function drawSignatures() {
    const list = $("mi-signatures");
    list.replaceChildren();
    const s = cur && cur.signatures;
    const none = !s || s.version === null || s.version === undefined;
    $("mi-signatures-empty").hidden = !none;
    if (none) return;
    for (const x of s.signed || [])
      list.append(el("li", { dataset: { role: x.role, state: "signed" } }, t("mi_signed_line", { role: t(`role_sig_${x.role}`), signer: x.signer, at: x.signed_at_ms ? vnTime(x.signed_at_ms) : "" })));
    for (const x of s.pending || [])
      list.append(el("li", { class: "sig-pending", dataset: { role: x.role, state: "pending" } }, t("mi_pending_line", { role: t(`role_sig_${x.role}`), name: x.name ? ` (${x.name})` : "" })));
    if (s.sealed) list.append(el("li", { dataset: { state: "sealed" } }, t("mi_sealed")));
  }

  function attendanceText(a) {
    if (typeof a !== "object" || a === null) return "";
    return t("mi_attendance_line", { sites: a.connected_sites, expected: a.expected_sites, people: a.people_present, at: vnTime(a.taken_at_ms) });
  }

  for (const id of ["mi-notes", "mi-conclusions"]) $(id).addEventListener("input", () => cur && (cur.minutesDirty = true));

  $("minutes-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!cur) return;
    clearFormError("minutes-error", "minutes-form");
    const conclusions = $("mi-conclusions").value.trim();
    const notes = $("mi-notes").value.trim();
    if (!conclusions || chars(conclusions) > 50000) return formError("minutes-error", t("mi_need_conclusions"), $("mi-conclusions"));
    if (chars(notes) > 50000) return formError("minutes-error", t("mi_too_long"), $("mi-notes"));
    const item_summaries = {};
    for (const area of $("mi-items").querySelectorAll("textarea")) {
      const text = area.value.trim();
      if (chars(text) > 50000) return formError("minutes-error", t("mi_too_long"), area);
      if (text) item_summaries[area.dataset.item] = text;
    }
    const mine = cur;
    $("mi-save").disabled = true;
    try {
      const v = await api("PUT", `${base()}/minutes`, { conclusions, notes, item_summaries });
      if (mine !== cur) return;
      mine.minutes = v;
      mine.minutesDirty = false;
      toast(t("mi_saved", { n: v.version }), "ok");
      const versions = await api("GET", `${base()}/minutes/versions`);
      if (mine !== cur) return;
      mine.versions = versions.versions || [];
      drawMinutes(true);
    } catch (e) {
      formRefusal("minutes-error", e, { conclusions: "mi-conclusions", notes: "mi-notes" });
    } finally {
      $("mi-save").disabled = false;
      if (cur && cur.minutes) $("mi-finalise").disabled = cur.minutes.status !== "draft";
    }
  });

  $("mi-finalise").addEventListener("click", async () => {
    if (!cur || !cur.minutes) return;
    if (!(await confirmBox(t("confirm_finalise", { n: cur.minutes.version })))) return;
    const v = await act($("mi-finalise"), () => api("POST", `${base()}/minutes/finalise`));
    if (!v || !cur) return;
    toast(t("mi_finalised", { n: v.version }), "ok");
    loadMinutes();
  });

  // ------------------------------------------------------------ language switch
  function applyStaticText() {
    document.documentElement.lang = lang;
    document.title = t("app_title");
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    $("btn-lang").textContent = t("lang_switch");
    fillClassSelect();
    fillMotionSelects();
    drawFileName();
    if (cur) {
      fillItemSelect();
      fillDocSelect();
      $("agenda-form-title").textContent = cur.editing ? t("agenda_edit", { pos: cur.agenda.items.findIndex((x) => x.id === cur.editing) + 1 }) : t("agenda_add");
      $("ag-submit").textContent = t(cur.editing ? "save" : "add");
    }
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
      drawHead();
      setConn($("m-conn").dataset.state);
      drawAgenda();
      drawDocs();
      drawBook();
      drawMotions();
      drawMinutes(false);
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
      agenda: cur ? cur.agenda.items.map((x) => ({ id: x.id, title: x.title })) : [],
      documents: cur ? cur.docs.map((d) => ({ id: d.id, title: d.title, state: d.state, version: d.version, size: d.size_bytes })) : [],
      upload: { state: upload.state, max: upload.max, trace: upload.trace.slice(), total: upload.total, result: upload.result },
      motions: cur ? cur.motions.map((m) => ({ id: m.id, state: m.state, ballots: m.ballots_cast, results: m.results })) : [],
      minutes: cur && cur.minutes ? { status: cur.minutes.status, version: cur.minutes.version } : null,
    }),
    log: () => logLines.slice(),
  };

  render();
})();
