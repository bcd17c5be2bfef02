// diemcau – operator console. Plain ES2020, no framework, nothing loaded
// from outside (the network is isolated). One page routed in the browser:
//   /console                   login, then the meetings of today and later
//   /console/meetings/<id>     the live wall of one meeting
//   /console/schedule[/<id>]   plan a meeting (or edit a scheduled one): rooms
//                              picked from the org tree and/or by unit query
//   /console/endpoints         the endpoint registry: the org tree with its rooms,
//                              tokens shown once, rotate, revoke, CSV import
//   /console/cascade           cascade links: this node's place in the tree, its
//                              relay links to the parent, its child nodes
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
      act_readiness: "Sẵn sàng kỹ thuật",
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
      mute_entry: "Điểm cầu vào họp tắt micrô",
      stream: "Phát trực tiếp",
      stream_start: "Bắt đầu phát",
      stream_stop: "Dừng phát",
      stream_watch: "Xem luồng phát",
      stream_auto: "Bố cục tự động",
      layouts: { stage: "Chỉ sân khấu", one_plus5: "1 lớn + 5", one_plus7: "1 lớn + 7", grid2x2: "Lưới 2×2", grid3x3: "Lưới 3×3", grid4x4: "Lưới 4×4", presenter: "Tài liệu + người nói" },
      ev_stream_on: "Phát trực tiếp nội bộ: {layout}",
      output_layouts: "Bố cục từng đầu ra",
      output_follow: "Theo bố cục cuộc họp",
      outputs: { stream: "Truyền hình nội bộ (HLS)", recording: "Bản ghi", sip: "Phòng SIP", screen: "Màn hình hội trường" },
      ev_output_layout: "{output}: {layout}",
      ev_stream_off: "Đã dừng phát trực tiếp",
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
      others_title: "Đang theo dõi và kết nối khác",
      others_empty: "Không có.",
      others_kinds: { console: "màn hình điều hành", viewer: "xem", publisher: "phát", room: "điểm cầu", relay: "liên kết tầng" },
      btn_send_away: "Mời ra",
      lobby_title: "Phòng chờ",
      lobby_empty: "Không có điểm cầu nào đang chờ.",
      lobby_waiting: "chờ từ {time}",
      btn_admit: "Cho vào",
      btn_deny: "Từ chối",
      log_title: "Diễn biến",
      audit_title: "Nhật ký kiểm toán",
      audit_empty: "Chưa có bản ghi nào về hội nghị này.",
      tile_hub: "Chủ trì",
      tile_guest: "Khách",
      tile_via: "Qua nút {node}",
      ev_relay_sites: "Nút {node}: {n} điểm cầu kết nối qua liên kết tầng",
      ev_relay_down: "Nút {node}: liên kết tầng bị ngắt",
      ev_parent_up: "Đã liên kết với nút cấp trên",
      ev_parent_down: "Mất liên kết với nút cấp trên; hội nghị tại nút này vẫn tiếp tục",
      tile_connected: "Đã kết nối",
      tile_dropped: "Mất kết nối",
      tile_waiting: "Chưa kết nối",
      tile_removed: "Đã mời ra",
      sip_calling: "Đang gọi…",
      sip_ringing: "Đổ chuông",
      sip_connected: "Đã nối máy",
      sip_ended: "Đã gác máy",
      sip_in_call: "SIP · {codec}",
      sip_retry: "{reason} · gọi lại sau {n} giây",
      btn_sip_call: "Gọi lại",
      ev_sip_call: "{name}: {state}",
      tile_drops: "Rớt {n} lần",
      tile_headcount: "{n} người",
      tile_no_headcount: "Chưa báo sĩ số",
      tile_stage: "Sân khấu",
      tile_floor_pos: "Đăng ký #{n}",
      tile_speaking: "Đang phát biểu",
      tile_mic_muted: "Micrô đang tắt",
      tile_cam_muted: "Camera đang tắt",
      meter_loss: "mất gói",
      link_bitrate: "Tốc độ nhận",
      link_loss: "Mất gói",
      link_rtt: "Độ trễ khứ hồi",
      link_none: "Chưa có số đo đường truyền",
      link_short_loss: "mất gói",
      link_short_rtt: "trễ",
      link_open_chart: "Xem biểu đồ chất lượng đường truyền",
      link_chart_title: "Chất lượng đường truyền: {name}",
      link_axis_loss: "Mất gói (%)",
      link_axis_rtt: "Độ trễ khứ hồi (ms)",
      link_axis_kbps: "Tốc độ (kbit/s)",
      link_series_in: "chiều về",
      link_series_out: "chiều đi",
      link_series_kbps: "nhận từ điểm cầu",
      link_series_bwe: "ước lượng băng thông",
      link_ago: "{n} phút trước",
      link_now: "bây giờ",
      link_no_samples: "Chưa có số đo nào trong 5 phút qua.",
      link_close: "Đóng",
      alert_link_loss: "Điểm cầu “{name}”: đường truyền kém (mất gói {loss} %)",
      alert_link_rtt: "Điểm cầu “{name}”: đường truyền kém (độ trễ {rtt} ms)",
      ev_link_degraded: "{name}: đường truyền kém",
      ev_link_recovered: "{name}: đường truyền ổn định trở lại",
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
      ev_mute_entry_on: "Điểm cầu vào sau sẽ tắt micrô",
      ev_check_result: "Kiểm tra kỹ thuật {name}: {status}",
      ev_check_started: "Bắt đầu kiểm tra kỹ thuật ({n} điểm cầu đang kết nối)",
      ev_mute_entry_off: "Điểm cầu vào sau sẽ mở micrô",
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
      act_readiness: "Readiness",
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
      mute_entry: "Rooms join muted",
      stream: "Live stream",
      stream_start: "Start streaming",
      stream_stop: "Stop streaming",
      stream_watch: "Watch the stream",
      stream_auto: "Automatic layout",
      layouts: { stage: "Stage only", one_plus5: "1 large + 5", one_plus7: "1 large + 7", grid2x2: "2×2 grid", grid3x3: "3×3 grid", grid4x4: "4×4 grid", presenter: "Document + speaker" },
      ev_stream_on: "Internal live stream: {layout}",
      output_layouts: "Layout per output",
      output_follow: "The meeting's layout",
      outputs: { stream: "Internal stream (HLS)", recording: "Recording", sip: "SIP rooms", screen: "Hall screens" },
      ev_output_layout: "{output}: {layout}",
      ev_stream_off: "Live stream stopped",
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
      others_title: "Watching and other connections",
      others_empty: "None.",
      others_kinds: { console: "console", viewer: "player", publisher: "publisher", room: "room", relay: "relay link" },
      btn_send_away: "Send away",
      lobby_title: "Lobby",
      lobby_empty: "No room is waiting.",
      lobby_waiting: "waiting since {time}",
      btn_admit: "Let in",
      btn_deny: "Turn away",
      log_title: "Events",
      audit_title: "Audit log",
      audit_empty: "No record about this meeting yet.",
      tile_hub: "Hub",
      tile_guest: "Guest",
      tile_via: "Via node {node}",
      ev_relay_sites: "Node {node}: {n} rooms connected through the relay link",
      ev_relay_down: "Node {node}: relay link down",
      ev_parent_up: "Linked to the parent node",
      ev_parent_down: "Lost the link to the parent node; the meeting goes on here",
      tile_connected: "Connected",
      tile_dropped: "Dropped",
      tile_waiting: "Not connected yet",
      tile_removed: "Removed",
      sip_calling: "Calling…",
      sip_ringing: "Ringing",
      sip_connected: "Answered",
      sip_ended: "Hung up",
      sip_in_call: "SIP · {codec}",
      sip_retry: "{reason} · retrying in {n} s",
      btn_sip_call: "Call again",
      ev_sip_call: "{name}: {state}",
      tile_drops: "drops: {n}",
      tile_headcount: "{n} people",
      tile_no_headcount: "No headcount",
      tile_stage: "On stage",
      tile_floor_pos: "Request #{n}",
      tile_speaking: "Speaking",
      tile_mic_muted: "Microphone muted",
      tile_cam_muted: "Camera off",
      meter_loss: "loss",
      link_bitrate: "Receive rate",
      link_loss: "Packet loss",
      link_rtt: "Round-trip time",
      link_none: "No link measurement yet",
      link_short_loss: "loss",
      link_short_rtt: "RTT",
      link_open_chart: "Open the link quality chart",
      link_chart_title: "Link quality: {name}",
      link_axis_loss: "Packet loss (%)",
      link_axis_rtt: "Round-trip time (ms)",
      link_axis_kbps: "Bitrate (kbit/s)",
      link_series_in: "inbound",
      link_series_out: "outbound",
      link_series_kbps: "received from the site",
      link_series_bwe: "bandwidth estimate",
      link_ago: "{n} min ago",
      link_now: "now",
      link_no_samples: "No measurement in the last 5 minutes.",
      link_close: "Close",
      alert_link_loss: "Site “{name}”: poor link ({loss} % packet loss)",
      alert_link_rtt: "Site “{name}”: poor link ({rtt} ms round trip)",
      ev_link_degraded: "{name}: poor link",
      ev_link_recovered: "{name}: link is good again",
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
      ev_mute_entry_on: "Rooms joining from now on are muted",
      ev_check_result: "Technical check of {name}: {status}",
      ev_check_started: "Technical check started ({n} rooms connected)",
      ev_mute_entry_off: "Rooms joining from now on are not muted",
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
  // The scheduler and the endpoint registry.
  Object.assign(DICT.vi, {
    nav_meetings: "Hội nghị",
    nav_endpoints: "Điểm cầu",
    schedule_open: "Lên lịch hội nghị",
    act_edit: "Sửa",
    act_cancel: "Hủy",
    confirm_cancel: "Hủy hội nghị “{title}”? Các điểm cầu sẽ không vào họp được nữa.",
    cancelled_done: "Đã hủy hội nghị “{title}”.",
    cancelled_many: "Đã hủy {n} buổi của “{title}”.",
    occurrence: "buổi {n}",
    sip_dial_in: "Số quay SIP (thiết bị hội nghị): {n}",
    confirm_cancel_series: "Đây là một buổi của hội nghị định kỳ. Hủy luôn các buổi sau của chuỗi? (Chọn “Hủy” để chỉ hủy buổi này.)",
    sch_heading_new: "Lên lịch hội nghị",
    sch_heading_edit: "Sửa lịch hội nghị",
    sch_back: "Quay lại danh sách",
    sch_submit_new: "Lên lịch",
    sch_submit_edit: "Lưu thay đổi",
    sch_title: "Tên hội nghị",
    sch_kind: "Loại hội nghị",
    sch_hub: "Điểm cầu chủ trì",
    sch_hub_none: "— Không chọn —",
    sch_start: "Bắt đầu (giờ Việt Nam, UTC+07:00)",
    sch_end: "Kết thúc (giờ Việt Nam, UTC+07:00)",
    sch_chair: "Người chủ trì (không bắt buộc)",
    sch_secretary: "Thư ký (không bắt buộc)",
    sch_mute_entry: "Điểm cầu vào họp tắt micrô (trừ điểm cầu chủ trì)",
    sch_policy: "Chế độ họp",
    sch_policy_hint: "Họp kín: chỉ các điểm cầu và người có tên trong hội nghị. Họp mở rộng: điểm cầu khác chờ ở phòng chờ đến khi điều hành cho vào.",
    policies: { closed: "Họp kín", open: "Họp mở rộng" },
    sch_body: "Cơ quan (thành viên theo nhiệm kỳ, không bắt buộc)",
    sch_body_none: "— Không theo cơ quan —",
    sch_members: "Đại biểu có tên",
    sch_members_none: "Chưa có tài khoản đại biểu nào.",
    member_roles: { voting: "chính thức (biểu quyết)", invited: "khách mời" },
    sch_person_none: "— Chưa chỉ định —",
    sch_people: "Số người dự kiến (không bắt buộc)",
    sch_quorum: "Túc số (%)",
    sch_description: "Nội dung, ghi chú (không bắt buộc)",
    sch_participants: "Điểm cầu tham dự",
    sch_participants_hint: "Chọn từng điểm cầu trong cây đơn vị, và/hoặc thêm cả một nhóm đơn vị (ví dụ: tất cả các xã thuộc một đơn vị). Danh sách theo nhóm được xác định theo ngày họp.",
    sch_tree: "Cây đơn vị và điểm cầu",
    sch_tree_filter: "Tìm đơn vị, điểm cầu…",
    sch_count: "Đã chọn {n} điểm cầu",
    sch_unbound: "Chưa gắn đơn vị",
    sch_is_hub: "chủ trì",
    sch_revoked: "đã thu hồi mã",
    sch_no_units: "Chưa có đơn vị nào.",
    sch_queries: "Theo đơn vị",
    sch_q_unit: "Các đơn vị thuộc",
    sch_q_pick: "— Chọn đơn vị —",
    sch_q_self: "Gồm cả chính đơn vị này",
    sch_q_add: "Thêm nhóm",
    sch_q_remove: "Bỏ",
    sch_q_all_kinds: "mọi loại đơn vị",
    sch_q_text: "Tất cả {kinds} thuộc {unit}",
    sch_q_text_self: "{unit} và tất cả {kinds} trực thuộc",
    sch_q_preview: "hiện có {units} đơn vị, {eps} điểm cầu",
    sch_q_need_unit: "Hãy chọn một đơn vị.",
    sch_q_empty: "Chưa thêm nhóm nào.",
    sch_recurrence: "Lặp lại",
    sch_repeat: "Hội nghị định kỳ (tạo một chuỗi)",
    sch_freq: "Tần suất",
    sch_interval: "mỗi",
    sch_count_label: "Số buổi",
    sch_until: "Đến hết ngày",
    sch_rec_note: "Sửa một buổi chỉ thay đổi buổi này; quy tắc lặp lại của chuỗi giữ nguyên.",
    freq_daily: "Hằng ngày",
    freq_weekly: "Hằng tuần",
    freq_monthly: "Hằng tháng",
    unit_daily: "ngày",
    unit_weekly: "tuần",
    unit_monthly: "tháng",
    weekdays: { mo: "Thứ Hai", tu: "Thứ Ba", we: "Thứ Tư", th: "Thứ Năm", fr: "Thứ Sáu", sa: "Thứ Bảy", su: "Chủ nhật" },
    v_title: "Vui lòng nhập tên hội nghị.",
    v_title_long: "Tên hội nghị dài tối đa 300 ký tự.",
    v_start: "Vui lòng chọn ngày giờ bắt đầu.",
    v_end: "Vui lòng chọn ngày giờ kết thúc.",
    v_end_before: "Thời điểm kết thúc phải sau thời điểm bắt đầu.",
    v_too_long: "Một hội nghị kéo dài tối đa 24 giờ.",
    v_participants: "Hãy chọn ít nhất một điểm cầu hoặc một nhóm đơn vị.",
    v_people: "Số người dự kiến là số nguyên từ 1 đến 100000.",
    v_quorum: "Túc số là số nguyên từ 1 đến 100 (%).",
    v_interval: "Khoảng lặp là số nguyên từ 1 đến 12.",
    v_count: "Số buổi là số nguyên từ 1 đến 200.",
    v_until: "Hãy chọn ngày kết thúc chuỗi, không trước ngày bắt đầu.",
    sv_title: "Tên hội nghị phải có từ 1 đến 300 ký tự.",
    sv_kind: "Loại hội nghị không hợp lệ.",
    sv_start: "Thời điểm bắt đầu không hợp lệ: phải sau năm 2000 và không quá hai năm tới.",
    sv_end: "Thời điểm kết thúc phải sau thời điểm bắt đầu.",
    sv_end_long: "Một hội nghị kéo dài tối đa 24 giờ.",
    sv_hub: "Điểm cầu chủ trì không tồn tại.",
    sv_participants: "Có điểm cầu không tồn tại hoặc được chọn hai lần.",
    sv_queries: "Có đơn vị không tồn tại vào ngày họp.",
    sv_chair: "Người chủ trì không tồn tại, đã bị khóa hoặc không có vai trò chủ trì.",
    sv_secretary: "Thư ký không tồn tại, đã bị khóa hoặc không có vai trò thư ký.",
    sv_people: "Số người dự kiến phải từ 1 đến 100000.",
    sv_quorum: "Túc số phải từ 1 đến 100 (%).",
    sv_description: "Nội dung, ghi chú dài tối đa 5000 ký tự.",
    sv_recurrence: "Quy tắc lặp lại không hợp lệ (mỗi 1–12 ngày/tuần/tháng, tối đa 200 buổi, trong vòng hai năm).",
    sv_name: "Tên điểm cầu phải có từ 1 đến 200 ký tự.",
    sv_room: "Phòng họp dài tối đa 200 ký tự.",
    sv_tech: "Tên kỹ thuật viên dài tối đa 200 ký tự.",
    sv_phone: "Số điện thoại không hợp lệ.",
    sv_link: "Đường truyền không hợp lệ.",
    sv_unit: "Đơn vị không tồn tại hoặc đã giải thể vào ngày gắn.",
    server_detail: "Chi tiết từ máy chủ: {message}",
    sch_at: "{day}, {date} lúc {time}",
    sch_duration: "kéo dài {h} giờ {m} phút",
    reg_filter_label: "Tìm đơn vị, điểm cầu",
    reg_filter: "Tìm đơn vị, điểm cầu, kỹ thuật viên…",
    scheduled_one: "Đã lên lịch “{title}”.",
    scheduled_many: "Đã lên lịch chuỗi {n} buổi “{title}”.",
    saved: "Đã lưu thay đổi “{title}”.",
    not_editable_here: "Hội nghị này không còn sửa được.",
    kinds: {
      bch: "Hội nghị Ban Chấp hành",
      btv: "Hội nghị Ban Thường vụ",
      giao_ban: "Giao ban",
      quan_triet: "Hội nghị quán triệt, triển khai nghị quyết",
      chuyen_de: "Hội nghị chuyên đề",
      other: "Khác",
    },
    org_kinds: { central: "Trung ương", province: "Tỉnh", commune: "Xã", ward: "Phường", special_zone: "Đặc khu", sector: "Đảng ủy trực thuộc" },
    org_kinds_plural: { central: "cơ quan Trung ương", province: "tỉnh", commune: "xã", ward: "phường", special_zone: "đặc khu", sector: "đảng ủy trực thuộc" },
    links: { fibre: "Cáp quang", "4g": "4G", "3g": "3G", vsat: "VSAT" },
    reg_title: "Điểm cầu",
    reg_new: "Thêm điểm cầu",
    reg_summary: "{units} đơn vị, {eps} điểm cầu ({revoked} đã thu hồi mã) — theo cây tổ chức ngày {on}",
    reg_col_name: "Điểm cầu",
    reg_col_room: "Phòng họp",
    reg_col_tech: "Kỹ thuật viên",
    reg_col_link: "Đường truyền",
    reg_col_state: "Trạng thái",
    reg_col_actions: "Thao tác",
    reg_no_eps: "Chưa có điểm cầu.",
    reg_active: "Hoạt động",
    reg_revoked: "Đã thu hồi mã",
    reg_rotate: "Cấp mã mới",
    reg_sip: "Mật khẩu SIP",
    reg_confirm_sip: "Cấp tài khoản SIP mới cho thiết bị hội nghị của “{name}”? Mật khẩu cũ ngừng hoạt động ngay.",
    sip_heading: "Tài khoản SIP của “{name}” (nhập vào thiết bị hội nghị; chỉ hiện một lần)",
    reg_revoke: "Thu hồi mã",
    reg_add_here: "+ Điểm cầu",
    reg_confirm_rotate: "Cấp mã truy cập mới cho “{name}”? Mã cũ ngừng hoạt động ngay lập tức.",
    reg_confirm_revoke: "Thu hồi mã truy cập của “{name}”? Điểm cầu sẽ không kết nối được cho đến khi được cấp mã mới.",
    reg_revoked_done: "Đã thu hồi mã của “{name}”.",
    reg_unbound: "Điểm cầu chưa gắn đơn vị",
    ep_heading: "Thêm điểm cầu",
    ep_heading_edit: "Sửa thông tin điểm cầu",
    ep_save: "Lưu thay đổi",
    ep_saved: "Đã lưu thông tin “{name}”.",
    ep_unit_fixed: "Đơn vị gắn theo ngày; đổi đơn vị bằng quyết định sáp nhập hoặc chuyển đơn vị.",
    reg_edit: "Sửa",
    ep_name: "Tên điểm cầu",
    ep_unit: "Đơn vị",
    ep_unit_pick: "— Chọn đơn vị —",
    ep_room: "Phòng họp (tòa nhà, tầng, phòng)",
    ep_tech: "Kỹ thuật viên",
    ep_phone: "Điện thoại",
    ep_link: "Đường truyền",
    ep_submit: "Thêm và cấp mã truy cập",
    ep_need_name: "Vui lòng nhập tên điểm cầu.",
    ep_need_unit: "Hãy chọn đơn vị của điểm cầu.",
    token_heading_new: "Mã truy cập của điểm cầu “{name}”",
    token_heading_rotated: "Mã truy cập mới của điểm cầu “{name}”",
    token_warning: "Mã truy cập này chỉ hiển thị MỘT LẦN. Hãy sao chép và trao cho kỹ thuật viên điểm cầu ngay; sau khi đóng hộp thoại sẽ không xem lại được (chỉ có thể cấp mã mới).",
    token_copy: "Sao chép",
    token_copied: "Đã sao chép vào bộ nhớ tạm.",
    token_copy_failed: "Không sao chép được; hãy chọn mã và nhấn Ctrl+C.",
    token_close: "Tôi đã lưu mã, đóng",
    imp_title: "Nhập đơn vị từ tệp CSV",
    imp_hint: "Tệp CSV (UTF-8) có dòng tiêu đề với các cột code,name,kind,parent_code,valid_from. Loại đơn vị (kind): province, commune, ward, special_zone, sector, central; ngày hiệu lực dạng YYYY-MM-DD. Nhập tất cả hoặc không dòng nào: một dòng lỗi thì không có gì thay đổi.",
    imp_file: "Chọn tệp CSV",
    imp_text: "hoặc dán nội dung CSV",
    imp_submit: "Nhập đơn vị",
    imp_empty: "Hãy chọn tệp CSV hoặc dán nội dung CSV.",
    imp_done: "Đã nhập {n} đơn vị.",
    imp_nothing: "Không có thay đổi nào được ghi.",
    imp_row: "Dòng {n}, cột “{column}” ({label}): {reason}",
    imp_item: "Mục {n}, trường “{column}” ({label}): {reason}",
    imp_columns: { code: "Mã", name: "Tên", kind: "Loại", parent_code: "Mã đơn vị cấp trên", valid_from: "Ngày hiệu lực" },
    imp_reasons: {
      code: "mã đơn vị trống, bị trùng trong tệp hoặc đã được dùng (mã không bao giờ dùng lại)",
      name: "tên đơn vị không hợp lệ (trống hoặc quá dài)",
      kind: "loại đơn vị không hợp lệ; dùng province, commune, ward, special_zone, sector hoặc central",
      parent_code: "không có đơn vị cấp trên mang mã này (trong tệp hoặc đã có), hoặc các mã cấp trên tạo thành vòng lặp",
      valid_from: "ngày hiệu lực không hợp lệ (dạng YYYY-MM-DD, trong thời gian tồn tại của đơn vị cấp trên)",
    },
  });
  Object.assign(DICT.vi.errors, {
    not_editable: "Chỉ sửa được hội nghị đã lên lịch hoặc đang mở phòng chờ.",
    unknown_unit: "Không tìm thấy đơn vị.",
    duplicate_code: "Mã đơn vị đã được dùng (mã không bao giờ dùng lại).",
    unit_in_use: "Đơn vị đang được sử dụng.",
    bad_import: "Tệp nhập không đúng định dạng.",
    not_utf8: "Tệp không phải văn bản UTF-8; hãy lưu bảng tính dạng CSV UTF-8.",
    unsupported_media_type: "Định dạng dữ liệu không được hỗ trợ.",
    bad_request: "Yêu cầu không hợp lệ.",
  });
  Object.assign(DICT.en, {
    nav_meetings: "Meetings",
    nav_endpoints: "Endpoints",
    schedule_open: "Schedule a meeting",
    act_edit: "Edit",
    act_cancel: "Cancel",
    confirm_cancel: "Cancel the meeting “{title}”? Sites will no longer be able to join.",
    cancelled_done: "Meeting “{title}” cancelled.",
    cancelled_many: "{n} meetings of “{title}” cancelled.",
    occurrence: "meeting {n}",
    sip_dial_in: "SIP dial-in (room systems): {n}",
    confirm_cancel_series: "This is one meeting of a series. Cancel the later ones too? (“Cancel” cancels this one only.)",
    sch_heading_new: "Schedule a meeting",
    sch_heading_edit: "Edit a scheduled meeting",
    sch_back: "Back to the list",
    sch_submit_new: "Schedule",
    sch_submit_edit: "Save changes",
    sch_title: "Meeting title",
    sch_kind: "Kind of meeting",
    sch_hub: "Hub (chairing) endpoint",
    sch_hub_none: "— None —",
    sch_start: "Starts (Vietnam time, UTC+07:00)",
    sch_end: "Ends (Vietnam time, UTC+07:00)",
    sch_chair: "Chair (optional)",
    sch_secretary: "Secretary (optional)",
    sch_mute_entry: "Rooms join muted (all but the hub)",
    sch_policy: "Access",
    sch_policy_hint: "Closed: only the meeting's rooms and named people. Open: other rooms wait in the lobby until an operator lets them in.",
    policies: { closed: "Closed meeting", open: "Open meeting" },
    sch_body: "Body (members by term, optional)",
    sch_body_none: "— No body —",
    sch_members: "Named people",
    sch_members_none: "No delegate accounts yet.",
    member_roles: { voting: "voting member", invited: "invited guest" },
    sch_person_none: "— Not set —",
    sch_people: "Expected attendance (optional)",
    sch_quorum: "Quorum (%)",
    sch_description: "Description, notes (optional)",
    sch_participants: "Participating endpoints",
    sch_participants_hint: "Tick endpoints one by one in the org tree, and/or add whole groups of units (e.g. every commune under a unit). Groups are resolved as of the meeting's date.",
    sch_tree: "Org tree and endpoints",
    sch_tree_filter: "Find a unit or endpoint…",
    sch_count: "{n} endpoints selected",
    sch_unbound: "Not bound to a unit",
    sch_is_hub: "hub",
    sch_revoked: "token revoked",
    sch_no_units: "No units yet.",
    sch_queries: "By unit",
    sch_q_unit: "Units under",
    sch_q_pick: "— Pick a unit —",
    sch_q_self: "Include the unit itself",
    sch_q_add: "Add group",
    sch_q_remove: "Remove",
    sch_q_all_kinds: "units of every kind",
    sch_q_text: "Every {kinds} under {unit}",
    sch_q_text_self: "{unit} and every {kinds} under it",
    sch_q_preview: "today {units} units, {eps} endpoints",
    sch_q_need_unit: "Pick a unit.",
    sch_q_empty: "No group added.",
    sch_recurrence: "Recurrence",
    sch_repeat: "Recurring meeting (makes a series)",
    sch_freq: "Frequency",
    sch_interval: "every",
    sch_count_label: "Occurrences",
    sch_until: "Until (inclusive)",
    sch_rec_note: "Editing one occurrence changes only it; the series rule stays.",
    freq_daily: "Daily",
    freq_weekly: "Weekly",
    freq_monthly: "Monthly",
    unit_daily: "day(s)",
    unit_weekly: "week(s)",
    unit_monthly: "month(s)",
    weekdays: { mo: "Monday", tu: "Tuesday", we: "Wednesday", th: "Thursday", fr: "Friday", sa: "Saturday", su: "Sunday" },
    v_title: "Please enter a title.",
    v_title_long: "A title is at most 300 characters.",
    v_start: "Please pick the start date and time.",
    v_end: "Please pick the end date and time.",
    v_end_before: "The end must be after the start.",
    v_too_long: "A meeting lasts at most 24 hours.",
    v_participants: "Pick at least one endpoint or one group of units.",
    v_people: "Expected attendance is a whole number from 1 to 100000.",
    v_quorum: "The quorum is a whole number from 1 to 100 (%).",
    v_interval: "The interval is a whole number from 1 to 12.",
    v_count: "Occurrences: a whole number from 1 to 200.",
    v_until: "Pick the series' last date, not before the start.",
    sv_title: "A title is 1 to 300 characters.",
    sv_kind: "Not a meeting kind.",
    sv_start: "Invalid start: after 2000 and at most two years ahead.",
    sv_end: "The end must be after the start.",
    sv_end_long: "A meeting lasts at most 24 hours.",
    sv_hub: "The hub endpoint does not exist.",
    sv_participants: "An endpoint does not exist or is listed twice.",
    sv_queries: "A unit does not exist on the meeting's date.",
    sv_chair: "The chair does not exist, is disabled or lacks the chair role.",
    sv_secretary: "The secretary does not exist, is disabled or lacks the secretary role.",
    sv_people: "Expected attendance is 1 to 100000.",
    sv_quorum: "The quorum is 1 to 100 (%).",
    sv_description: "The description is at most 5000 characters.",
    sv_recurrence: "Invalid recurrence (every 1–12 days/weeks/months, at most 200 meetings, within two years).",
    sv_name: "An endpoint name is 1 to 200 characters.",
    sv_room: "The room is at most 200 characters.",
    sv_tech: "The technician's name is at most 200 characters.",
    sv_phone: "Invalid phone number.",
    sv_link: "Invalid link profile.",
    sv_unit: "The unit does not exist or has ended on the binding date.",
    server_detail: "Server detail: {message}",
    sch_at: "{day}, {date} at {time}",
    sch_duration: "lasts {h} h {m} min",
    reg_filter_label: "Find a unit or endpoint",
    reg_filter: "Find a unit, endpoint, technician…",
    scheduled_one: "“{title}” scheduled.",
    scheduled_many: "Series of {n} meetings “{title}” scheduled.",
    saved: "Changes to “{title}” saved.",
    not_editable_here: "This meeting can no longer be edited.",
    kinds: {
      bch: "Executive Committee plenum (BCH)",
      btv: "Standing Committee meeting (BTV)",
      giao_ban: "Regular briefing (giao ban)",
      quan_triet: "Studying and carrying out a resolution (quán triệt)",
      chuyen_de: "Thematic conference (chuyên đề)",
      other: "Other",
    },
    org_kinds: { central: "Central", province: "Province", commune: "Commune", ward: "Ward", special_zone: "Special zone", sector: "Sector committee" },
    org_kinds_plural: { central: "central bodies", province: "provinces", commune: "communes", ward: "wards", special_zone: "special zones", sector: "sector committees" },
    links: { fibre: "Fibre", "4g": "4G", "3g": "3G", vsat: "VSAT" },
    reg_title: "Endpoints",
    reg_new: "Add an endpoint",
    reg_summary: "{units} units, {eps} endpoints ({revoked} with revoked tokens) — org tree as of {on}",
    reg_col_name: "Endpoint",
    reg_col_room: "Room",
    reg_col_tech: "Technician",
    reg_col_link: "Link",
    reg_col_state: "State",
    reg_col_actions: "Actions",
    reg_no_eps: "No endpoint.",
    reg_active: "Active",
    reg_revoked: "Token revoked",
    reg_rotate: "New token",
    reg_sip: "SIP password",
    reg_confirm_sip: "Issue a new SIP account for the room system of “{name}”? The old password stops working at once.",
    sip_heading: "SIP account of “{name}” (enter it in the room system; shown once)",
    reg_revoke: "Revoke token",
    reg_add_here: "+ Endpoint",
    reg_confirm_rotate: "Issue a new token for “{name}”? The old one stops working at once.",
    reg_confirm_revoke: "Revoke the token of “{name}”? It cannot connect until a new token is issued.",
    reg_revoked_done: "Token of “{name}” revoked.",
    reg_unbound: "Endpoints bound to no unit",
    ep_heading: "Add an endpoint",
    ep_heading_edit: "Edit an endpoint",
    ep_save: "Save changes",
    ep_saved: "“{name}” saved.",
    ep_unit_fixed: "Unit bindings are dated; they change with a merge or a move of the unit.",
    reg_edit: "Edit",
    ep_name: "Endpoint name",
    ep_unit: "Unit",
    ep_unit_pick: "— Pick a unit —",
    ep_room: "Room (building, floor, room)",
    ep_tech: "Technician",
    ep_phone: "Phone",
    ep_link: "Link profile",
    ep_submit: "Add and issue a token",
    ep_need_name: "Please enter the endpoint's name.",
    ep_need_unit: "Pick the endpoint's unit.",
    token_heading_new: "Access token of “{name}”",
    token_heading_rotated: "New access token of “{name}”",
    token_warning: "This token is shown ONCE. Copy it and hand it to the site's technician now; once this dialog is closed it cannot be shown again (only replaced).",
    token_copy: "Copy",
    token_copied: "Copied to the clipboard.",
    token_copy_failed: "Could not copy; select the token and press Ctrl+C.",
    token_close: "I saved it, close",
    imp_title: "Import units from a CSV file",
    imp_hint: "A UTF-8 CSV file with a header row: code,name,kind,parent_code,valid_from. kind: province, commune, ward, special_zone, sector, central; valid_from as YYYY-MM-DD. All rows or none: one bad row changes nothing.",
    imp_file: "Pick a CSV file",
    imp_text: "or paste the CSV",
    imp_submit: "Import units",
    imp_empty: "Pick a CSV file or paste CSV text.",
    imp_done: "{n} units imported.",
    imp_nothing: "Nothing was written.",
    imp_row: "Row {n}, column “{column}” ({label}): {reason}",
    imp_item: "Item {n}, field “{column}” ({label}): {reason}",
    imp_columns: { code: "code", name: "name", kind: "kind", parent_code: "parent's code", valid_from: "first day" },
    imp_reasons: {
      code: "empty, repeated in the file or already used (codes are never reused)",
      name: "invalid unit name (empty or too long)",
      kind: "not a unit kind; use province, commune, ward, special_zone, sector or central",
      parent_code: "no unit has this parent code (in the file or stored), or the parent codes form a cycle",
      valid_from: "invalid first day (YYYY-MM-DD, within the parent's life)",
    },
  });
  // The cascade links view (/console/cascade).
  Object.assign(DICT.vi, {
    nav_cascade: "Liên kết tầng",
    nav_bodies: "Cơ quan",
    nav_signatures: "Chữ ký số",
    cas_title: "Liên kết tầng",
    cas_new: "Đăng ký nút cấp dưới",
    cas_this_node: "Máy chủ này",
    cas_relays: "Liên kết chuyển tiếp lên cấp trên, theo hội nghị",
    cas_children: "Nút cấp dưới",
    cas_col_node: "Nút",
    cas_col_link: "Liên kết",
    cas_col_hello: "Lần chào gần nhất",
    cas_col_rtt: "Độ trễ khứ hồi",
    cas_col_budget: "Băng thông",
    cas_children_empty: "Chưa đăng ký nút cấp dưới nào.",
    cas_child_relays: "Chuyển tiếp của nút cấp dưới vào các hội nghị",
    cas_child_relays_empty: "Hiện không có nút cấp dưới nào chuyển tiếp vào hội nghị của máy chủ này.",
    cas_child_relay_item: "{node} (người tham dự #{participant})",
    cas_sa_title: "Máy chủ này đang chạy độc lập (chưa cấu hình liên kết tầng)",
    cas_sa_intro: "Liên kết tầng nối các máy chủ theo cây tổ chức (Trung ương ← Tỉnh ủy ← các đảng ủy cấp dưới): mỗi hội nghị đang mở được chuyển tiếp lên máy chủ cấp trên và nhận hình, tiếng từ cấp trên xuống. Để bật, quản trị viên sửa mục [cascade] trong tệp cấu hình rồi khởi động lại dịch vụ:",
    cas_sa_node_id: "mã của máy chủ này: chữ thường không dấu, chữ số và dấu “-”, 1 đến 64 ký tự (ví dụ tinh-uy). Bắt buộc khi có cấp trên; máy chủ cao nhất chỉ cần node_id để cấp dưới kết nối vào.",
    cas_sa_name: "tên hiển thị, có thể viết tiếng Việt có dấu (ví dụ Tỉnh ủy).",
    cas_sa_parent: "địa chỉ API của máy chủ cấp trên, ví dụ https://10.0.0.1:8443 (http:// chỉ dùng thử nghiệm).",
    cas_sa_parent_ca: "tệp PEM chứng chỉ CA của máy chủ cấp trên (tải tại https://<máy chủ cấp trên>/ca.pem): chỉ tin CA này khi kết nối lên cấp trên.",
    cas_sa_credential: "mã xác thực (bắt đầu bằng dcn_) do quản trị viên máy chủ cấp trên cấp khi đăng ký nút này trong mục “Liên kết tầng” của họ; mã chỉ hiển thị một lần. Có thể để trong tệp riêng (credential_file) hoặc biến môi trường DIEMCAU_CASCADE__CREDENTIAL.",
    cas_sa_uplink: "băng thông dành cho liên kết lên cấp trên, kbit/s (100 đến 1000000; mặc định 20000).",
    cas_top: "Máy chủ cao nhất: không có cấp trên.",
    cas_no_parent_relays: "Máy chủ này không có cấp trên nên không chuyển tiếp hội nghị lên đâu cả.",
    cas_no_relays: "Không có hội nghị nào đang mở: chưa có liên kết chuyển tiếp.",
    cas_up: "Đã liên kết",
    cas_down: "Mất liên kết",
    cas_never: "Chưa liên kết",
    cas_revoked: "Đã thu hồi mã",
    cas_parent: "Cấp trên: {name}",
    cas_parent_url: "Địa chỉ: {url}",
    cas_rtt: "Độ trễ khứ hồi: {ms} ms",
    cas_last_hello: "Lần chào gần nhất: {when}",
    cas_since: "từ {when}",
    cas_last_error: "Lỗi gần nhất: {error}",
    cas_ago_s: "{n} giây trước",
    cas_ago_m: "{n} phút trước",
    cas_ago_h: "{n} giờ trước",
    cas_relay_up: "Lên (gửi)",
    cas_relay_down: "Xuống (nhận)",
    cas_relay_link_up: "Đang chuyển tiếp",
    cas_relay_link_down: "Đang nối lại",
    cas_relinks: "Đã nối lại {n} lần",
    cas_budget: "Giới hạn {kbps} kbit/s",
    cas_bytes: "Tổng: lên {up}, xuống {down}",
    cas_meeting_loading: "Hội nghị {id}",
    cas_rotate: "Cấp mã mới",
    cas_revoke: "Thu hồi mã",
    cas_confirm_rotate: "Cấp mã xác thực mới cho nút “{name}”? Mã cũ ngừng hoạt động ngay; phải cập nhật cấu hình của máy chủ đó.",
    cas_confirm_revoke: "Thu hồi mã xác thực của nút “{name}”? Nút sẽ mất liên kết ngay và không kết nối lại được cho đến khi được cấp mã mới.",
    cas_revoked_done: "Đã thu hồi mã của nút “{name}”.",
    cas_id: "Mã nút (node_id của máy chủ cấp dưới)",
    cas_id_hint: "Chữ thường không dấu, chữ số và dấu “-”, 1 đến 64 ký tự; phải trùng với node_id trong cấu hình của máy chủ đó.",
    cas_name: "Tên nút",
    cas_uplink: "Băng thông từ nút lên (kbit/s, không bắt buộc)",
    cas_unit: "Đơn vị nút phục vụ",
    cas_unit_hint: "Nút chỉ chuyển tiếp các hội nghị có điểm cầu thuộc đơn vị này hoặc đơn vị cấp dưới, và chỉ báo có mặt cho các điểm cầu đó. Không chọn: nút chỉ chuyển tiếp hội nghị được xếp riêng cho nó.",
    cas_unit_none: "— Không gắn đơn vị —",
    cas_sv_unit: "Đơn vị không tồn tại.",
    cas_submit: "Đăng ký và cấp mã xác thực",
    cas_need_id: "Vui lòng nhập mã nút.",
    cas_bad_id: "Mã nút chỉ gồm chữ thường không dấu, chữ số và dấu “-”, 1 đến 64 ký tự.",
    cas_need_name: "Vui lòng nhập tên nút.",
    cas_bad_uplink: "Băng thông phải từ 100 đến 1000000 kbit/s.",
    cas_sv_id: "Mã nút không hợp lệ (chữ thường không dấu, chữ số, “-”; 1 đến 64 ký tự).",
    cas_sv_name: "Tên nút không hợp lệ (trống hoặc quá dài).",
    cas_sv_uplink: "Băng thông không hợp lệ (100 đến 1000000 kbit/s).",
    cas_cred_heading_new: "Mã xác thực của nút “{name}”",
    cas_cred_heading_rotated: "Mã xác thực mới của nút “{name}”",
    cas_cred_warning: "Mã xác thực này chỉ hiển thị MỘT LẦN. Hãy sao chép và trao cho quản trị viên máy chủ cấp dưới ngay để đặt vào mục [cascade] credential; sau khi đóng hộp thoại sẽ không xem lại được (chỉ có thể cấp mã mới).",
  });
  Object.assign(DICT.vi.errors, {
    duplicate_node: "Mã nút này đã được đăng ký.",
    unknown_node: "Không tìm thấy nút cấp dưới.",
    cascade_not_configured: "Máy chủ này chưa có node_id trong mục [cascade] nên chưa nhận được nút cấp dưới.",
  });
  Object.assign(DICT.en, {
    nav_cascade: "Cascade links",
    nav_bodies: "Bodies",
    nav_signatures: "Signatures",
    cas_title: "Cascade links",
    cas_new: "Register a child node",
    cas_this_node: "This server",
    cas_relays: "Relay links to the parent, per meeting",
    cas_children: "Child nodes",
    cas_col_node: "Node",
    cas_col_link: "Link",
    cas_col_hello: "Last hello",
    cas_col_rtt: "Round trip",
    cas_col_budget: "Budget",
    cas_children_empty: "No child node registered yet.",
    cas_child_relays: "Child nodes' relays into meetings",
    cas_child_relays_empty: "No child node relays into this server's meetings right now.",
    cas_child_relay_item: "{node} (participant #{participant})",
    cas_sa_title: "This server stands alone (cascading is not configured)",
    cas_sa_intro: "Cascading joins servers along the org tree (central ← province ← lower committees): each open meeting is relayed up to the parent server and takes its picture and sound down. To turn it on, an administrator edits the [cascade] section of the configuration file and restarts the service:",
    cas_sa_node_id: "this server's id: lowercase ASCII letters, digits and “-”, 1 to 64 characters (e.g. tinh-uy). Required with a parent; the top server only needs a node_id for children to connect.",
    cas_sa_name: "display name, Vietnamese is fine (e.g. Tỉnh ủy).",
    cas_sa_parent: "the parent server's API address, e.g. https://10.0.0.1:8443 (http:// for labs only).",
    cas_sa_parent_ca: "the PEM file of the parent server's CA (download it at https://<parent>/ca.pem): the only CA trusted towards the parent.",
    cas_sa_credential: "the credential (starting dcn_) the parent's administrator issued when registering this node under “Cascade links”; it is shown once. May live in a file (credential_file) or in DIEMCAU_CASCADE__CREDENTIAL.",
    cas_sa_uplink: "bandwidth for the link to the parent, kbit/s (100 to 1000000; default 20000).",
    cas_top: "Top server: no parent.",
    cas_no_parent_relays: "This server has no parent, so it relays no meeting upwards.",
    cas_no_relays: "No meeting is open: no relay link yet.",
    cas_up: "Linked",
    cas_down: "Link lost",
    cas_never: "Never linked",
    cas_revoked: "Credential revoked",
    cas_parent: "Parent: {name}",
    cas_parent_url: "Address: {url}",
    cas_rtt: "Round trip: {ms} ms",
    cas_last_hello: "Last hello: {when}",
    cas_since: "since {when}",
    cas_last_error: "Last error: {error}",
    cas_ago_s: "{n} s ago",
    cas_ago_m: "{n} min ago",
    cas_ago_h: "{n} h ago",
    cas_relay_up: "Up (sent)",
    cas_relay_down: "Down (received)",
    cas_relay_link_up: "Relaying",
    cas_relay_link_down: "Relinking",
    cas_relinks: "Relinked {n} times",
    cas_budget: "Budget {kbps} kbit/s",
    cas_bytes: "Total: up {up}, down {down}",
    cas_meeting_loading: "Meeting {id}",
    cas_rotate: "New credential",
    cas_revoke: "Revoke",
    cas_confirm_rotate: "Issue a new credential for node “{name}”? The old one stops working at once; that server's configuration must be updated.",
    cas_confirm_revoke: "Revoke the credential of node “{name}”? Its link goes down at once and it cannot reconnect until a new credential is issued.",
    cas_revoked_done: "Credential of node “{name}” revoked.",
    cas_id: "Node id (the child server's node_id)",
    cas_id_hint: "Lowercase ASCII letters, digits and “-”, 1 to 64 characters; the same as node_id in that server's configuration.",
    cas_name: "Node name",
    cas_uplink: "Bandwidth from the node (kbit/s, optional)",
    cas_unit: "Unit the node serves",
    cas_unit_hint: "The node relays only meetings with a room of this unit or a unit below it, and reports presence only for those rooms. None: it relays only meetings placed on it explicitly.",
    cas_unit_none: "— No unit —",
    cas_sv_unit: "No such unit.",
    cas_submit: "Register and issue a credential",
    cas_need_id: "Please enter the node id.",
    cas_bad_id: "A node id has lowercase ASCII letters, digits and “-” only, 1 to 64 characters.",
    cas_need_name: "Please enter the node's name.",
    cas_bad_uplink: "Bandwidth must be 100 to 1000000 kbit/s.",
    cas_sv_id: "Invalid node id (lowercase ASCII letters, digits, “-”; 1 to 64 characters).",
    cas_sv_name: "Invalid node name (empty or too long).",
    cas_sv_uplink: "Invalid bandwidth (100 to 1000000 kbit/s).",
    cas_cred_heading_new: "Credential of node “{name}”",
    cas_cred_heading_rotated: "New credential of node “{name}”",
    cas_cred_warning: "This credential is shown ONCE. Copy it and hand it to the child server's administrator now for its [cascade] credential; once this dialog is closed it cannot be shown again (only replaced).",
  });
  Object.assign(DICT.en.errors, {
    duplicate_node: "This node id is already registered.",
    unknown_node: "No such child node.",
    cascade_not_configured: "This server has no [cascade] node_id, so it cannot take child nodes.",
  });
  const SCENES = ["khai_mac", "chu_tri_phat_bieu", "thao_luan", "bieu_quyet", "be_mac"];
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


  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const m = Math.floor(s / 60);
    return `${m}:${String(s % 60).padStart(2, "0")}`;
  }

  // Meetings are planned in Vietnam's time zone (UTC+07:00).

  // ------------------------------------------------------------ API
  let csrf = null;
  let me = null;

  const { ApiError } = DiemcauCommon;

  // `contentType` given: `body` is sent as it is (a CSV file), not as JSON.
  async function api(method, path, body, contentType) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
    if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : contentType ? body : JSON.stringify(body),
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
    const p = location.pathname;
    let m = p.match(/^\/console\/meetings\/([^/]+)\/?$/);
    if (m) return { view: "live", id: decodeURIComponent(m[1]) };
    m = p.match(/^\/console\/meetings\/([^/]+)\/readiness\/?$/);
    if (m) return { view: "readiness", id: decodeURIComponent(m[1]) };
    if (/^\/console\/schedule\/?$/.test(p)) return { view: "schedule", id: null };
    m = p.match(/^\/console\/schedule\/([^/]+)\/?$/);
    if (m) return { view: "schedule", id: decodeURIComponent(m[1]) };
    if (/^\/console\/endpoints\/?$/.test(p)) return { view: "endpoints" };
    if (/^\/console\/cascade\/?$/.test(p)) return { view: "cascade" };
    if (/^\/console\/bodies\/?$/.test(p)) return { view: "bodies" };
    if (/^\/console\/signatures\/?$/.test(p)) return { view: "signatures" };
    return { view: "meetings" };
  }
  function go(path) {
    history.pushState(null, "", path);
    render();
  }
  window.addEventListener("popstate", () => render());

  function showOnly(id) {
    for (const v of ["view-login", "view-meetings", "view-live", "view-schedule", "view-endpoints", "view-cascade", "view-bodies", "view-signatures", "view-readiness"]) $(v).hidden = v !== id;
    markNav(id);
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
      if (r.view === "schedule") openSchedule(r.id);
      else if (r.view === "endpoints") openRegistry();
      else if (r.view === "cascade") openCascade();
      else if (r.view === "bodies") openBodies();
      else if (r.view === "signatures") openTrust();
      else if (r.view === "readiness") openReadiness(r.id);
      else showMeetings();
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
    sched = null;
    reg = null;
    closeCascade();
    $("reg-tree").replaceChildren();
    $("sch-tree").replaceChildren();
    $("reg-filter").value = "";
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
    $("nav").hidden = !me;
    $("nav-endpoints").hidden = !may("endpoints_read");
    $("nav-cascade").hidden = !may("cascade_read");
    $("nav-bodies").hidden = !may("org_read");
    $("nav-signatures").hidden = !may("trust_read");
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
    $("btn-schedule").hidden = !may("meetings_write");
    window.DiemcauReadiness.mountReport($("unit-report"), { may, lang: () => lang });
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
      const runs = may("meeting_lifecycle");
      if (runs && m.state === "scheduled") actions.append(lifecycle("open", "act_open"));
      if (runs && m.state === "open") actions.append(lifecycle("start", "act_start", "btn-primary"));
      if (runs && m.state === "live") actions.append(lifecycle("end", "act_end", "btn-danger"));
      if (may("meetings_write") && (m.state === "scheduled" || m.state === "open")) {
        actions.append(
          el("a", {
            class: "btn btn-small",
            href: `/console/schedule/${encodeURIComponent(m.id)}`,
            dataset: { action: "edit", meeting: m.id },
            text: t("act_edit"),
            onclick: (ev) => {
              ev.preventDefault();
              go(`/console/schedule/${encodeURIComponent(m.id)}`);
            },
          }),
          el("button", {
            class: "btn btn-small btn-danger",
            type: "button",
            dataset: { action: "cancel", meeting: m.id },
            text: t("act_cancel"),
            onclick: (ev) => cancelMeeting(ev.currentTarget, m),
          })
        );
      }
      if (may("readiness_read") && m.state !== "ended" && m.state !== "cancelled")
        actions.append(
          el("a", {
            class: "btn btn-small",
            href: `/console/meetings/${encodeURIComponent(m.id)}/readiness`,
            dataset: { action: "readiness", meeting: m.id },
            text: t("act_readiness"),
            onclick: (ev) => {
              ev.preventDefault();
              go(`/console/meetings/${encodeURIComponent(m.id)}/readiness`);
            },
          })
        );
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
          el("td", {}, el("div", { class: "m-title", text: m.title }), el("div", { class: "m-kind", text: m.series_id ? `${tk("kinds", m.kind)} · ${t("occurrence", { n: m.occurrence })}` : tk("kinds", m.kind) }), el("span", { class: `policy-tag policy-${m.access_policy}`, dataset: { policy: m.access_policy }, text: tk("policies", m.access_policy) }), m.sip_dial_in ? el("div", { class: "m-kind sip-dial-in", text: t("sip_dial_in", { n: m.sip_dial_in }) }) : null),
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
    if ($("link-dialog").open) $("link-dialog").close();
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
    live = { id, sip: {}, meeting: null, snap: null, ws: null, recording: null, agenda: null, closed: false, seq: 0, events: [], links: new Map(), linkNow: 0 };
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
          setSnap(mine, snap);
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
      setSnap(mine, msg.state);
      mine.seq = msg.seq || 0;
      setConn("live");
      clearAlert("conn");
      drawLive();
      if (!mine.media) startMedia(mine);
      loadLinks(mine);
      return;
    }
    if (typeof msg.seq === "number") mine.seq = msg.seq;
    // Link samples come every 2 s: they touch the meters and charts only,
    // not the snapshot.
    if (msg.type === "link_stats" || msg.type === "link_degraded" || msg.type === "link_recovered") {
      onLinkEvent(mine, msg);
      return;
    }
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
      case "check_result":
        logEvent(t("ev_check_result", { name, status: msg.status }));
        break;
      case "check_started":
        logEvent(t("ev_check_started", { n: msg.rooms }));
        break;
      case "live_stream":
        if (mine.snap) {
          mine.snap.live_stream = msg.on;
          mine.snap.live_stream_layout = msg.layout || null;
        }
        logEvent(msg.on ? t("ev_stream_on", { layout: msg.layout ? DICT[lang].layouts[msg.layout] : t("stream_auto") }) : t("ev_stream_off"));
        drawToolbar();
        break;
      case "output_layout":
        if (mine.snap) mine.snap.output_layouts = Object.assign({}, mine.snap.output_layouts, { [msg.output]: msg.layout || null });
        logEvent(t("ev_output_layout", { output: DICT[lang].outputs[msg.output] || msg.output, layout: msg.layout ? DICT[lang].layouts[msg.layout] : t("output_follow") }));
        drawToolbar();
        break;
      case "mute_on_entry":
        if (mine.snap) mine.snap.mute_on_entry = msg.on;
        logEvent(t(msg.on ? "ev_mute_entry_on" : "ev_mute_entry_off"));
        drawToolbar();
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
      case "relay_thumbs":
        for (const th of msg.thumbs) patchSite(th.endpoint_id, { thumb_participant: th.participant });
        refreshSnapshot(mine);
        break;
      case "relay_sites":
        if (msg.endpoints.length) logEvent(t("ev_relay_sites", { node: msg.node, n: msg.endpoints.length }));
        else alertBar(t("ev_relay_down", { node: msg.node }), "amber", `relay:${msg.node}`);
        if (msg.endpoints.length) clearAlert(`relay:${msg.node}`);
        break;
      case "parent_relay":
        if (msg.up) {
          logEvent(t("ev_parent_up"));
          clearAlert("parent");
        } else alertBar(t("ev_parent_down"), "amber", "parent");
        break;
      case "sip_call":
        // Dial-out's progress on a SIP room (calling, ringing, failed…).
        mine.sip[msg.endpoint_id] = msg;
        logEvent(t("ev_sip_call", { name, state: sipText(msg) }));
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
      setSnap(mine, snap);
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
      setSnap(mine, snap);
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

  // The live stream's controls: layout (automatic or one of six), start /
  // stop, and the player's link while it runs.
  function drawStream(snap) {
    const sel = $("stream-layout");
    const layouts = Object.keys(DICT[lang].layouts);
    if (sel.dataset.lang !== lang) {
      sel.replaceChildren(el("option", { value: "", text: t("stream_auto") }), ...layouts.map((l) => el("option", { value: l, text: DICT[lang].layouts[l] })));
      sel.dataset.lang = lang;
    }
    const on = !!(snap && snap.live_stream);
    if (on) sel.value = snap.live_stream_layout || "";
    const btn = $("btn-stream");
    btn.textContent = on ? t("stream_stop") : t("stream_start");
    btn.classList.toggle("btn-danger", on);
    const link = $("lnk-stream");
    link.hidden = !on;
    if (live) link.href = `/live/${encodeURIComponent(live.id)}`;
    drawOutputLayouts(snap);
  }

  // Each output of the composite (HLS, recording, SIP rooms, hall
  // screens) may show its own layout; one encoding per layout in use.
  function drawOutputLayouts(snap) {
    const list = $("output-layout-list");
    const chosen = (snap && snap.output_layouts) || {};
    const outputs = Object.keys(DICT[lang].outputs);
    if (list.dataset.lang !== lang) {
      list.replaceChildren(...outputs.map((o) => {
        const sel = el("select", { id: `output-layout-${o}` });
        sel.dataset.output = o;
        sel.append(el("option", { value: "", text: t("output_follow") }), ...Object.keys(DICT[lang].layouts).map((l) => el("option", { value: l, text: DICT[lang].layouts[l] })));
        sel.addEventListener("change", (ev) => liveAction(ev.currentTarget, "output-layout", { output: o, layout: ev.currentTarget.value || null }));
        return el("label", { class: "inline" }, el("span", { text: DICT[lang].outputs[o] }), sel);
      }));
      list.dataset.lang = lang;
    }
    for (const o of outputs) {
      const sel = $(`output-layout-${o}`);
      if (sel && document.activeElement !== sel) sel.value = chosen[o] || "";
    }
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
    $("chk-mute-entry").checked = !!(snap && snap.mute_on_entry);
    drawStream(snap);
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
    drawLinks();
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
      el(
        "div",
        { class: "link", dataset: { level: "none" } },
        el(
          "div",
          { class: "link-meters" },
          el("span", { class: "lm lm-kbps", dataset: { level: "none" } }),
          el("span", { class: "lm lm-loss", dataset: { level: "none" } }),
          el("span", { class: "lm lm-rtt", dataset: { level: "none" } })
        ),
        el("button", { class: "spark-btn", type: "button", dataset: { action: "link-chart" }, onclick: () => openLinkChart(id) }, sparkSvg())
      ),
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
        b("remove", (ev) => removeOrReadmit(ev.currentTarget, id)),
        b("sip-call", (ev) => liveAction(ev.currentTarget, "sip-call", { endpoint_id: id }))
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
    // A room on a node below this one, reached through its relay link.
    if (s.connected && s.via_node) badges.push(el("span", { class: "tb tb-via", text: t("tile_via", { node: s.via_node }) }));
    if (s.on_stage) badges.push(el("span", { class: "tb tb-stage", text: t("tile_stage") }));
    if (s.floor && s.floor.state === "requested") badges.push(el("span", { class: "tb tb-floor", text: t("tile_floor_pos", { n: s.floor.position }) }));
    if (s.floor && s.floor.state === "speaking") badges.push(el("span", { class: "tb tb-speaking", text: t("tile_speaking") }));
    // A SIP room: its codecs while in the call; else how a dial-out goes.
    const sip = live && live.sip[s.endpoint_id];
    const inCall = sip && sip.state === "connected";
    if (sip && (s.connected || !inCall)) badges.push(el("span", { class: "tb tb-sip", dataset: { sip: sip.state }, text: inCall ? t("sip_in_call", { codec: sip.codec || "" }) : sipText(sip) }));
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
    btn("sip-call").textContent = t("btn_sip_call");
    btn("sip-call").hidden = !sip || s.connected || s.removed || sip.state === "calling" || sip.state === "ringing";
  }

  // A snapshot carries each SIP room's last call state (`sip_calls`): a
  // console opened mid-call shows it on the wall at once, then follows
  // the `sip_call` events.
  function setSnap(mine, snap) {
    mine.snap = snap;
    if (snap && snap.sip_calls) mine.sip = { ...snap.sip_calls };
  }

  function sipText(m) {
    if (m.state === "failed") return m.retry_in_s ? t("sip_retry", { reason: m.reason, n: m.retry_in_s }) : m.reason;
    return t(`sip_${m.state}`);
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

  // Who watches the meeting (consoles, players) besides the rooms: listed,
  // and sent away by an operator; the rooms waiting in an open meeting's
  // lobby, let in or turned away.
  function drawOthers() {
    const list = $("others");
    const others = (live && live.snap && live.snap.roll_call.others) || [];
    const control = may("live_control");
    list.replaceChildren(
      ...others.map((o) =>
        el(
          "li",
          { dataset: { participant: String(o.participant), kind: o.kind } },
          el("span", { text: `${o.name} (${tk("others_kinds", o.kind)})` }),
          control
            ? el("button", {
                class: "btn btn-small btn-danger",
                type: "button",
                "data-action": "send-away",
                text: t("btn_send_away"),
                onclick: (e) => liveAction(e.currentTarget, "connections/remove", { participant: o.participant }),
              })
            : null
        )
      )
    );
    if (!others.length) list.append(el("li", { class: "muted-text", text: t("others_empty") }));
    const lobby = $("lobby");
    const waiting = (live && live.snap && live.snap.lobby) || [];
    lobby.replaceChildren(
      ...waiting.map((w) =>
        el(
          "li",
          { dataset: { endpoint: w.endpoint_id } },
          el("span", { text: `${w.name} — ${t("lobby_waiting", { time: clockAgo(w.since_ms) })}` }),
          control
            ? el("button", { class: "btn btn-small btn-primary", type: "button", "data-action": "admit", text: t("btn_admit"), onclick: (e) => liveAction(e.currentTarget, "lobby/admit", { endpoint_id: w.endpoint_id }) })
            : null,
          control
            ? el("button", { class: "btn btn-small", type: "button", "data-action": "deny", text: t("btn_deny"), onclick: (e) => liveAction(e.currentTarget, "lobby/deny", { endpoint_id: w.endpoint_id }) })
            : null
        )
      )
    );
    if (!waiting.length) lobby.append(el("li", { class: "muted-text", text: t("lobby_empty") }));
  }

  /** A live-clock time (ms on the server's monotonic clock) as minutes ago. */
  function clockAgo(ms) {
    const now = (live && live.snap && live.snap.now_ms) || ms;
    const min = Math.max(0, Math.round((now - ms) / 60000));
    return min < 1 ? (lang === "vi" ? "vừa xong" : "just now") : lang === "vi" ? `${min} phút trước` : `${min} min ago`;
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
  $("btn-readiness").addEventListener("click", () => live && go(`/console/meetings/${encodeURIComponent(live.id)}/readiness`));
  $("chk-mute-entry").addEventListener("change", (ev) => liveAction(ev.currentTarget, "mute-on-entry", { on: ev.currentTarget.checked }));
  $("btn-stream").addEventListener("click", (ev) => {
    if (!live || !live.snap) return;
    const layout = $("stream-layout").value || null;
    liveAction(ev.currentTarget, "stream", live.snap.live_stream ? { on: false } : { on: true, layout });
  });
  $("stream-layout").addEventListener("change", (ev) => {
    // While streaming, a new layout shows in the next segments.
    if (live && live.snap && live.snap.live_stream) liveAction(ev.currentTarget, "stream", { on: true, layout: ev.currentTarget.value || null });
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
    for (const s of allSites()) {
      if (s.participant) byParticipant.set(String(s.participant), s.endpoint_id);
      // A room on a node below: its thumbnail comes up the relay link while
      // this console watches, under a source id of its own.
      if (s.thumb_participant) byParticipant.set(String(s.thumb_participant), s.endpoint_id);
    }
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

  // ------------------------------------------------------------ link quality
  // The server samples every room's link each 2 s (received rate, loss both
  // ways, round-trip time, bandwidth estimate) and keeps 5 minutes of it:
  // `GET …/live/links` once when the wall opens, then `link_stats` events.
  // The meters, sparklines and the larger chart are drawn from those —
  // the server's measurements, not this console's own receiver.
  const LINK_WINDOW_MS = 300000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs, ...children) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function fmtNum(x, digits) {
    return Number(x).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: digits === undefined ? 1 : digits });
  }
  const lossOf = (s) => Math.max(s.loss_in_pct, s.loss_out_pct);
  const lossLevel = (p) => (p > 5 ? "bad" : p > 2 ? "warn" : "good");
  const rttLevel = (ms) => (ms > 400 ? "bad" : ms > 200 ? "warn" : "good");
  const kbpsLevel = (k) => (k >= 150 ? "good" : k >= 40 ? "warn" : "bad");
  const LEVELS = ["none", "good", "warn", "bad"];
  const worst = (...ls) => ls.reduce((a, b) => (LEVELS.indexOf(b) > LEVELS.indexOf(a) ? b : a), "none");

  function linkOf(mine, id) {
    let l = mine.links.get(id);
    if (!l) {
      l = { samples: [], degraded: false };
      mine.links.set(id, l);
    }
    return l;
  }

  async function loadLinks(mine) {
    try {
      const v = await api("GET", `/api/v1/meetings/${encodeURIComponent(mine.id)}/live/links`);
      if (mine.closed) return;
      for (const e of v.endpoints) {
        const l = linkOf(mine, e.endpoint_id);
        // Keep what the stream brought while the request was on its way.
        const last = e.samples.length ? e.samples[e.samples.length - 1].t_ms : -1;
        l.samples = [...e.samples, ...l.samples.filter((x) => x.t_ms > last)];
        l.degraded = e.degraded;
        const cur = l.samples[l.samples.length - 1];
        if (e.degraded && cur) alertLink(e.endpoint_id, lossOf(cur), cur.rtt_ms);
        else clearAlert(`link:${e.endpoint_id}`);
      }
      mine.linkNow = Math.max(mine.linkNow, v.now_ms);
      mine.linkInterval = v.interval_ms;
      drawLinks();
    } catch (e) {
      log("links", errorText(e));
    }
  }

  function alertLink(id, loss, rtt) {
    const name = siteName(id);
    const text = loss > 5 || rtt <= 400 ? t("alert_link_loss", { name, loss: fmtNum(loss) }) : t("alert_link_rtt", { name, rtt: fmtNum(rtt, 0) });
    alertBar(text, "amber", `link:${id}`);
  }

  function onLinkEvent(mine, msg) {
    if (msg.type === "link_stats") {
      for (const x of msg.links) {
        linkOf(mine, x.endpoint_id).samples.push({
          t_ms: msg.t_ms,
          kbps_in: x.kbps_in,
          loss_in_pct: x.loss_in_pct,
          loss_out_pct: x.loss_out_pct,
          rtt_ms: x.rtt_ms,
          bwe_kbps: x.bwe_kbps,
          transport: x.transport,
        });
      }
      const oldest = msg.t_ms - LINK_WINDOW_MS;
      for (const l of mine.links.values()) while (l.samples.length && l.samples[0].t_ms < oldest) l.samples.shift();
      mine.linkNow = msg.t_ms;
    } else if (msg.type === "link_degraded") {
      linkOf(mine, msg.endpoint_id).degraded = true;
      logEvent(t("ev_link_degraded", { name: siteName(msg.endpoint_id) }));
      alertLink(msg.endpoint_id, msg.loss_pct, msg.rtt_ms);
    } else {
      linkOf(mine, msg.endpoint_id).degraded = false;
      clearAlert(`link:${msg.endpoint_id}`);
      if (msg.connected) logEvent(t("ev_link_recovered", { name: siteName(msg.endpoint_id) }));
    }
    drawLinks();
  }

  // The sample to show now: the latest, if it is from the latest rounds.
  function currentSample(l) {
    if (!l || !l.samples.length || !live) return null;
    const s = l.samples[l.samples.length - 1];
    return live.linkNow - s.t_ms <= 3 * (live.linkInterval || 2000) ? s : null;
  }

  function sparkSvg() {
    return svgEl(
      "svg",
      { class: "spark", viewBox: "0 0 240 24", preserveAspectRatio: "none", "aria-hidden": "true" },
      svgEl("polyline", { class: "spark-kbps", points: "" }),
      svgEl("polyline", { class: "spark-loss", points: "" })
    );
  }

  // Points of a series over the last `span` ms (5 minutes unless told) in
  // a w×h box, values scaled to `max`.
  function seriesPoints(samples, now, w, h, value, max, span) {
    const win = span || LINK_WINDOW_MS;
    return samples
      .map((s) => {
        const x = w - ((now - s.t_ms) / win) * w;
        const y = h - Math.min(1, value(s) / max) * h;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(" ");
  }

  function drawLinks() {
    if (!live) return;
    for (const tile of $("grid").children) {
      const id = tile.dataset.endpoint;
      const l = live.links.get(id);
      const cur = tile.dataset.state === "connected" ? currentSample(l) : null;
      const box = tile.querySelector(".link");
      if (!box) continue;
      const kb = box.querySelector(".lm-kbps");
      const lo = box.querySelector(".lm-loss");
      const rt = box.querySelector(".lm-rtt");
      if (cur) {
        const loss = lossOf(cur);
        // ICE-TCP: the room's UDP is blocked; the tile says so.
        kb.textContent = `↓ ${fmtNum(cur.kbps_in, 0)} kbit/s${cur.transport === "tcp" ? " · TCP" : ""}`;
        kb.dataset.level = kbpsLevel(cur.kbps_in);
        kb.dataset.value = String(cur.kbps_in);
        kb.title = `${t("link_bitrate")}: ${fmtNum(cur.kbps_in, 0)} kbit/s`;
        lo.textContent = `${t("link_short_loss")} ${fmtNum(loss)} %`;
        lo.dataset.level = lossLevel(loss);
        lo.dataset.value = String(loss);
        lo.title = `${t("link_loss")}: ${t("link_series_in")} ${fmtNum(cur.loss_in_pct)} %, ${t("link_series_out")} ${fmtNum(cur.loss_out_pct)} %`;
        rt.textContent = `${t("link_short_rtt")} ${fmtNum(cur.rtt_ms, 0)} ms`;
        rt.dataset.level = rttLevel(cur.rtt_ms);
        rt.dataset.value = String(cur.rtt_ms);
        rt.title = `${t("link_rtt")}: ${fmtNum(cur.rtt_ms, 0)} ms`;
        box.dataset.level = l.degraded ? "bad" : worst(lo.dataset.level, rt.dataset.level);
      } else {
        for (const m of [kb, lo, rt]) {
          m.textContent = "";
          m.dataset.level = "none";
          delete m.dataset.value;
          m.title = "";
        }
        box.dataset.level = "none";
      }
      box.title = cur ? "" : t("link_none");
      tile.dataset.link = box.dataset.level;
      const samples = l ? l.samples : [];
      const spark = box.querySelector(".spark");
      const maxK = Math.max(100, ...samples.map((x) => x.kbps_in));
      // The sparkline spans what there is (1 to 5 minutes), so a room that
      // just joined does not sit in a corner; the large chart is always 5.
      const span = Math.min(LINK_WINDOW_MS, Math.max(60000, samples.length ? live.linkNow - samples[0].t_ms : 0));
      spark.querySelector(".spark-kbps").setAttribute("points", seriesPoints(samples, live.linkNow, 240, 22, (x) => x.kbps_in, maxK, span));
      // The loss line only when there was loss: a red line at zero alarms.
      const lossy = samples.some((x) => lossOf(x) > 0);
      spark.querySelector(".spark-loss").setAttribute("points", lossy ? seriesPoints(samples, live.linkNow, 240, 22, lossOf, 10, span) : "");
      spark.dataset.points = String(samples.length);
      box.querySelector(".spark-btn").title = t("link_open_chart");
      box.querySelector(".spark-btn").setAttribute("aria-label", `${t("link_open_chart")}: ${siteName(id)}`);
    }
    if ($("link-dialog").open) drawLinkChart();
  }

  function openLinkChart(id) {
    if (!live) return;
    live.chartFor = id;
    drawLinkChart();
    const dlg = $("link-dialog");
    if (!dlg.open) dlg.showModal();
  }

  // One chart: series over the last 5 minutes, y from 0 to a round maximum,
  // the axis named in the page's language.
  function lineChart(kind, axis, series, floorMax) {
    const W = 560;
    const H = 124;
    const L = 56;
    const R = 10;
    const T = 22;
    const B = 24;
    const w = W - L - R;
    const h = H - T - B;
    const now = live.linkNow;
    const top = Math.max(floorMax, ...series.flatMap((s) => s.samples.map(s.value)));
    const step = Math.pow(10, Math.floor(Math.log10(top)));
    const max = Math.ceil(top / step) * step;
    const g = svgEl("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": axis, "data-kind": kind });
    for (const f of [0, 0.5, 1]) {
      const y = T + h - f * h;
      g.append(svgEl("line", { class: "grid-line", x1: L, x2: L + w, y1: y, y2: y }));
      g.append(svgEl("text", { class: "tick", x: L - 6, y: y + 4, "text-anchor": "end" }, fmtNum(max * f, max < 10 ? 1 : 0)));
    }
    for (let m = 5; m >= 0; m--) {
      const x = L + w - (m / 5) * w;
      g.append(svgEl("text", { class: "tick", x, y: H - 8, "text-anchor": m === 5 ? "start" : m === 0 ? "end" : "middle" }, m === 0 ? t("link_now") : t("link_ago", { n: m })));
    }
    g.append(svgEl("line", { class: "axis", x1: L, x2: L, y1: T, y2: T + h }));
    g.append(svgEl("line", { class: "axis", x1: L, x2: L + w, y1: T + h, y2: T + h }));
    // The y axis's name sits above it, the time axis names its ticks.
    g.append(svgEl("text", { class: "axis-title", x: 6, y: 13, "text-anchor": "start" }, axis));
    for (const s of series) {
      const pts = seriesPoints(s.samples, now, w, h, s.value, max)
        .split(" ")
        .filter(Boolean)
        .map((p) => {
          const [x, y] = p.split(",").map(Number);
          return `${(x + L).toFixed(1)},${(y + T).toFixed(1)}`;
        })
        .join(" ");
      g.append(svgEl("polyline", { class: `series series-${s.cls}`, points: pts, "data-points": String(s.samples.length) }));
    }
    const legend = el("div", { class: "chart-legend" }, ...series.map((s) => el("span", { class: `legend legend-${s.cls}`, text: s.name })));
    return el("figure", { class: "chart-box", dataset: { kind } }, g, legend);
  }

  function drawLinkChart() {
    if (!live || !live.chartFor) return;
    const id = live.chartFor;
    const l = live.links.get(id);
    const samples = l ? l.samples : [];
    $("link-heading").textContent = t("link_chart_title", { name: siteName(id) });
    $("link-dialog").dataset.endpoint = id;
    const box = $("link-charts");
    if (!samples.length) {
      box.replaceChildren(el("p", { class: "muted-text", text: t("link_no_samples") }));
      return;
    }
    box.replaceChildren(
      lineChart("loss", t("link_axis_loss"), [
        { cls: "loss-in", name: t("link_series_in"), samples, value: (x) => x.loss_in_pct },
        { cls: "loss-out", name: t("link_series_out"), samples, value: (x) => x.loss_out_pct },
      ], 5),
      lineChart("rtt", t("link_axis_rtt"), [{ cls: "rtt", name: t("link_rtt"), samples, value: (x) => x.rtt_ms }], 100),
      lineChart("kbps", t("link_axis_kbps"), [
        { cls: "kbps", name: t("link_series_kbps"), samples, value: (x) => x.kbps_in },
        { cls: "bwe", name: t("link_series_bwe"), samples, value: (x) => x.bwe_kbps },
      ], 100)
    );
  }

  $("link-close").addEventListener("click", () => $("link-dialog").close());
  $("link-dialog").addEventListener("close", () => {
    if (live) live.chartFor = null;
  });

  // ------------------------------------------------------------ permissions
  // What the logged-in user's roles allow, mirroring the server's table
  // (src/api/access.rs `role_permits`): actions a role cannot do are not
  // offered. The server still checks every request.
  const ROLE_ACTIONS = {
    operator: ["users_read", "org_read", "org_write", "endpoints_read", "endpoints_write", "meetings_read", "meetings_write", "meeting_lifecycle", "live_control", "cascade_read", "trust_read", "readiness_read", "reports_read"],
    sub_operator: ["users_read", "org_read", "endpoints_read", "endpoints_write", "meetings_read", "meetings_write", "meeting_lifecycle", "live_control", "readiness_read"],
    secretary: ["users_read", "org_read", "endpoints_read", "meetings_read", "meetings_write"],
    chair: ["org_read", "endpoints_read", "meetings_read"],
    delegate: ["org_read", "meetings_read"],
    auditor: ["users_read", "org_read", "endpoints_read", "meetings_read", "cascade_read", "trust_read", "readiness_read", "reports_read"],
  };
  // A sub-operator's subtree for `action` (unit ids), or null when a role
  // without a scope already allows it — as the server's `scope_unit`.
  function scopeUnits(action, shape) {
    const scope = me && me.scope_unit_id;
    const roles = (me && me.roles) || [];
    const unscoped = roles.some((r) => r !== "sub_operator" && (r === "admin" || (ROLE_ACTIONS[r] || []).includes(action)));
    return !scope || unscoped ? null : new Set(subtreeIds(shape, scope));
  }
  function may(action) {
    const roles = (me && me.roles) || [];
    return roles.includes("admin") || roles.some((r) => (ROLE_ACTIONS[r] || []).includes(action));
  }

  // A word from one of the dictionary's groups (kinds, links, …).
  function tk(group, key) {
    const mine = DICT[lang][group];
    if (mine && mine[key] !== undefined) return mine[key];
    const vi = DICT.vi[group];
    return vi && vi[key] !== undefined ? vi[key] : String(key);
  }

  function markNav(view) {
    const current = view === "view-endpoints" ? "nav-endpoints" : view === "view-cascade" ? "nav-cascade" : view === "view-bodies" ? "nav-bodies" : view === "view-signatures" ? "nav-signatures" : view === "view-login" ? null : "nav-meetings";
    for (const id of ["nav-meetings", "nav-endpoints", "nav-cascade", "nav-bodies", "nav-signatures"]) {
      if (id === current) $(id).setAttribute("aria-current", "page");
      else $(id).removeAttribute("aria-current");
    }
  }
  for (const id of ["nav-meetings", "nav-endpoints", "nav-cascade", "nav-bodies", "nav-signatures"])
    $(id).addEventListener("click", (ev) => {
      ev.preventDefault();
      go(ev.currentTarget.getAttribute("href"));
    });

  // ------------------------------------------------------------ local time (UTC+07:00)
  const VN_MS = 7 * 3600 * 1000;
  function msToLocalInput(ms) {
    return new Date(ms + VN_MS).toISOString().slice(0, 16);
  }
  function localInputToMs(v) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(v || "");
    if (!m) return null;
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) - VN_MS;
  }
  function vnDate(ms) {
    return new Date(ms + VN_MS).toISOString().slice(0, 10);
  }

  // ------------------------------------------------------------ org tree helpers
  const ORG_KIND_ORDER = ["central", "province", "sector", "ward", "commune", "special_zone"];
  function sortUnits(list) {
    return list.slice().sort((a, b) => {
      const k = ORG_KIND_ORDER.indexOf(a.kind) - ORG_KIND_ORDER.indexOf(b.kind);
      return k !== 0 ? k : a.name.localeCompare(b.name, "vi");
    });
  }
  // { roots, children: Map(unit id → units), epsByUnit: Map(unit id | "" → endpoints) }
  function shapeTree(units, endpoints) {
    const ids = new Set(units.map((u) => u.id));
    const children = new Map();
    const roots = [];
    for (const u of units) {
      if (u.parent_id && ids.has(u.parent_id)) {
        if (!children.has(u.parent_id)) children.set(u.parent_id, []);
        children.get(u.parent_id).push(u);
      } else roots.push(u);
    }
    for (const [k, v] of children) children.set(k, sortUnits(v));
    const epsByUnit = new Map();
    for (const e of endpoints) {
      const key = e.unit && ids.has(e.unit.id) ? e.unit.id : "";
      if (!epsByUnit.has(key)) epsByUnit.set(key, []);
      epsByUnit.get(key).push(e);
    }
    for (const v of epsByUnit.values()) v.sort((a, b) => a.name.localeCompare(b.name, "vi"));
    return { roots: sortUnits(roots), children, epsByUnit };
  }
  // Units in tree order with their depth, for indented <select> options.
  function flatUnits(shape, only) {
    const out = [];
    const walk = (u, depth) => {
      if (!only || only.has(u.id)) out.push({ unit: u, depth });
      for (const c of shape.children.get(u.id) || []) walk(c, depth + 1);
    };
    for (const r of shape.roots) walk(r, 0);
    return out;
  }
  function subtreeIds(shape, id) {
    const out = [id];
    for (let i = 0; i < out.length; i++) for (const c of shape.children.get(out[i]) || []) out.push(c.id);
    return out;
  }
  function unitOption(u, depth) {
    return el("option", { value: u.id, text: `${"\u2003".repeat(depth)}${u.name} (${tk("org_kinds", u.kind)})` });
  }
  async function loadOrg(on) {
    const q = on ? `?on=${encodeURIComponent(on)}` : "";
    const [units, eps] = await Promise.all([api("GET", `/api/v1/org/units${q}`), api("GET", `/api/v1/endpoints${q}`)]);
    return { on: units.on, units: units.units || [], endpoints: eps.endpoints || [] };
  }

  // ------------------------------------------------------------ form errors
  // `prefix-name` is the input, `prefix-name-error` the message beside it.
  function clearFieldErrors(form) {
    for (const box of form.querySelectorAll(".field-error, .form-error")) {
      box.hidden = true;
      box.textContent = "";
      box.removeAttribute("title");
    }
    for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  }
  function fieldError(prefix, name, text, detail) {
    const box = $(`${prefix}-${name}-error`);
    if (!box) return false;
    box.textContent = text;
    if (detail) box.title = detail;
    box.hidden = false;
    const input = $(`${prefix}-${name}`);
    if (input) input.setAttribute("aria-invalid", "true");
    return true;
  }
  function formError(id, text) {
    const box = $(id);
    box.textContent = text;
    box.hidden = false;
  }
  function focusFirstError(form) {
    const bad = form.querySelector("[aria-invalid=true]");
    if (bad && typeof bad.focus === "function") bad.focus();
  }

  // ------------------------------------------------------------ scheduler
  // Plan a meeting (POST /api/v1/meetings) or edit a scheduled or open one
  // (PATCH). Rooms are ticked one by one in the org tree (endpoint_ids)
  // and/or added as unit queries; both are resolved by the server at the
  // meeting's own date.
  const MEETING_KINDS = ["bch", "btv", "giao_ban", "quan_triet", "chuyen_de", "other"];
  const QUERY_KINDS = ["commune", "ward", "special_zone", "sector", "province", "central"];
  const WEEKDAYS = ["mo", "tu", "we", "th", "fr", "sa", "su"];
  const MAX_MEETING_MS = 24 * 3600 * 1000;
  let sched = null; // { id, meeting, org, shape, users, selected: Set, queries: [], gen }

  async function openSchedule(id) {
    showOnly("view-schedule");
    $("crumbs").replaceChildren(
      el("a", {
        href: "/console",
        text: t("back"),
        onclick: (ev) => {
          ev.preventDefault();
          go("/console");
        },
      })
    );
    const mine = { id, meeting: null, org: null, shape: null, users: [], selected: new Set(), queries: [], gen: 0 };
    sched = mine;
    const form = $("sch-form");
    form.reset();
    clearFieldErrors(form);
    $("sch-tree").replaceChildren();
    $("sch-queries").replaceChildren();
    $("sch-tree-filter").placeholder = t("sch_tree_filter");
    $("sch-heading").textContent = t(id ? "sch_heading_edit" : "sch_heading_new");
    $("sch-submit").textContent = t(id ? "sch_submit_edit" : "sch_submit_new");
    $("sch-repeat").disabled = !!id;
    $("sch-rec").hidden = true;
    $("sch-rec-note").hidden = !id;
    if (!may("meetings_write")) {
      formError("sch-error", errorText(new ApiError(403, "forbidden", "meetings_write")));
      return;
    }
    let meeting = null;
    if (id) {
      meeting = await act(null, () => api("GET", `/api/v1/meetings/${encodeURIComponent(id)}`));
      if (sched !== mine) return;
      if (!meeting) return;
      if (meeting.state !== "scheduled" && meeting.state !== "open") {
        formError("sch-error", t("not_editable_here"));
        return;
      }
      mine.meeting = meeting;
      for (const e of meeting.endpoint_ids || []) mine.selected.add(e);
      mine.queries = (meeting.unit_queries || []).map((q) => ({ unit_id: q.unit_id, kinds: q.kinds || [], include_self: !!q.include_self }));
    }
    const users = may("users_read") ? api("GET", "/api/v1/users").catch(() => ({ users: [] })) : Promise.resolve({ users: [] });
    const bodies = api("GET", "/api/v1/bodies").catch(() => ({ bodies: [] }));
    const org = await act(null, () => loadOrg(meeting ? meeting.local_date : null));
    if (sched !== mine || !org) return;
    mine.org = scopedOrg(org);
    mine.shape = shapeTree(mine.org.units, mine.org.endpoints);
    mine.users = ((await users).users || []).filter((u) => !u.disabled);
    mine.bodies = (await bodies).bodies || [];
    if (sched !== mine) return;
    fillScheduleForm(meeting);
    drawSchedule();
    setTimeout(() => $("sch-title").focus(), 0);
  }

  // A sub-operator plans meetings inside their subtree only: the picker
  // offers nothing else (the server refuses the rest as out of scope).
  function scopedOrg(org) {
    const only = scopeUnits("meetings_write", shapeTree(org.units, org.endpoints));
    if (!only) return org;
    return {
      on: org.on,
      units: org.units.filter((u) => only.has(u.id)),
      endpoints: org.endpoints.filter((e) => e.unit && only.has(e.unit.id)),
    };
  }

  function fillSelect(select, options, value) {
    select.replaceChildren(...options);
    if (value !== undefined && value !== null) select.value = value;
  }

  function fillScheduleForm(m) {
    fillSelect($("sch-kind"), MEETING_KINDS.map((k) => el("option", { value: k, text: tk("kinds", k) })), m ? m.kind : "btv");
    $("sch-policy").value = "";
    delete $("sch-policy").dataset.touched;
    $("sch-mute-entry").checked = m ? !!m.mute_on_entry : defaultMute(m ? m.kind : "btv");
    delete $("sch-mute-entry").dataset.touched;
    fillSelect($("sch-freq"), ["weekly", "monthly", "daily"].map((f) => el("option", { value: f, text: t(`freq_${f}`) })), "weekly");
    $("sch-weekdays").replaceChildren(
      ...WEEKDAYS.map((d) => el("label", { class: "check" }, el("input", { type: "checkbox", value: d, dataset: { weekday: d } }), " ", tk("weekdays", d)))
    );
    $("sch-q-kinds").replaceChildren(
      ...QUERY_KINDS.map((k) =>
        el("label", { class: "check" }, el("input", { type: "checkbox", value: k, dataset: { kind: k }, checked: k === "commune" || k === "ward" }), " ", tk("org_kinds", k))
      )
    );
    if (!m) {
      // A sensible start: tomorrow 08:00, two hours, province time.
      const tomorrow = vnDate(Date.now() + 86400000);
      $("sch-start").value = `${tomorrow}T08:00`;
      $("sch-end").value = `${tomorrow}T10:00`;
      $("sch-quorum").value = "67";
      return;
    }
    $("sch-title").value = m.title;
    $("sch-description").value = m.description || "";
    $("sch-start").value = msToLocalInput(m.starts_at_ms);
    $("sch-end").value = msToLocalInput(m.ends_at_ms);
    $("sch-people").value = m.expected_people || "";
    $("sch-quorum").value = m.quorum_percent || "";
  }

  // Selects, tree and query list from `sched` (also after a language switch).
  function drawSchedule() {
    const s = sched;
    if (!s || !s.shape) return;
    const m = s.meeting;
    const hubValue = $("sch-hub").value || (m && m.hub_endpoint_id) || "";
    const eps = s.org.endpoints.slice().sort((a, b) => a.name.localeCompare(b.name, "vi"));
    fillSelect($("sch-hub"), [el("option", { value: "", text: t("sch_hub_none") }), ...eps.map((e) => el("option", { value: e.id, text: e.unit ? `${e.name} — ${e.unit.name}` : e.name }))], hubValue);
    const people = (select, role, current) => {
      const who = s.users.filter((u) => (u.roles || []).includes(role));
      fillSelect(select, [el("option", { value: "", text: t("sch_person_none") }), ...who.map((u) => el("option", { value: u.id, text: `${u.display_name} (${u.login})` }))], current || "");
    };
    people($("sch-chair"), "chair", $("sch-chair").value || (m && m.chair_user_id));
    people($("sch-secretary"), "secretary", $("sch-secretary").value || (m && m.secretary_user_id));
    const policy = $("sch-policy").value || (m ? m.access_policy : defaultPolicy($("sch-kind").value));
    fillSelect($("sch-policy"), ["closed", "open"].map((p) => el("option", { value: p, text: tk("policies", p) })), policy);
    const bodyValue = $("sch-body").value || (m && m.body_id) || "";
    fillSelect($("sch-body"), [el("option", { value: "", text: t("sch_body_none") }), ...(s.bodies || []).map((b) => el("option", { value: b.id, text: `${b.name} — ${b.term}` }))], bodyValue);
    drawMembers();
    $("sch-chair-field").hidden = !may("users_read");
    $("sch-secretary-field").hidden = !may("users_read");
    const qUnit = $("sch-q-unit").value;
    fillSelect($("sch-q-unit"), [el("option", { value: "", text: t("sch_q_pick") }), ...flatUnits(s.shape).map(({ unit, depth }) => unitOption(unit, depth))], qUnit);
    $("sch-interval-unit").textContent = t(`unit_${$("sch-freq").value || "weekly"}`);
    $("sch-weekdays").hidden = $("sch-freq").value !== "weekly";
    drawTimeHints();
    drawSchedTree();
    drawQueries();
  }

  /** BCH and BTV meetings are closed unless the planner says otherwise. */
  function defaultPolicy(kind) {
    return kind === "bch" || kind === "btv" ? "closed" : "open";
  }
  // Conferences mute rooms on entry; briefings and other meetings do not
  // (as the server's MeetingKind::mutes_on_entry).
  function defaultMute(kind) {
    return ["bch", "btv", "quan_triet", "chuyen_de"].includes(kind);
  }

  // People named in the meeting: a line per delegate, chair or secretary
  // account, ticked when named, voting or invited.
  function drawMembers() {
    const s = sched;
    const box = $("sch-members");
    const named = new Map();
    for (const c of box.querySelectorAll("input[type=checkbox]")) {
      if (c.checked) named.set(c.value, box.querySelector(`select[data-user="${c.value}"]`).value);
    }
    if (!box.childElementCount && s.meeting) for (const x of s.meeting.members || []) named.set(x.user_id, x.role);
    const who = s.users.filter((u) => (u.roles || []).some((r) => r === "delegate" || r === "chair" || r === "secretary"));
    $("sch-members-field").hidden = !may("users_read");
    box.replaceChildren(
      ...who.map((u) =>
        el(
          "div",
          { class: "member-line" },
          el("label", { class: "check" }, el("input", { type: "checkbox", value: u.id, checked: named.has(u.id) }), " ", `${u.display_name} (${u.login})`),
          el(
            "select",
            { dataset: { user: u.id }, "aria-label": t("sch_members") },
            ...["voting", "invited"].map((r) => el("option", { value: r, text: tk("member_roles", r), selected: (named.get(u.id) || "voting") === r }))
          )
        )
      )
    );
    if (!who.length) box.append(el("div", { class: "muted-text", text: t("sch_members_none") }));
  }

  function drawSchedTree() {
    const s = sched;
    const hub = $("sch-hub").value;
    const tree = $("sch-tree");
    const epLine = (e) =>
      el(
        "li",
        { class: "ep-line", dataset: { hub: String(e.id === hub) } },
        el(
          "label",
          { class: "check" },
          el("input", {
            type: "checkbox",
            dataset: { endpoint: e.id },
            checked: e.id === hub || s.selected.has(e.id),
            disabled: e.id === hub,
          }),
          el("span", { class: "ep-name", text: e.name })
        ),
        el("span", {
          class: "ep-meta",
          text: [tk("links", e.link), e.room, e.id === hub ? t("sch_is_hub") : "", e.revoked_at_ms ? t("sch_revoked") : ""].filter(Boolean).join(" · "),
        })
      );
    const unitNode = (u) => {
      const kids = s.shape.children.get(u.id) || [];
      const eps = s.shape.epsByUnit.get(u.id) || [];
      const inner = el("ul", {}, ...eps.map(epLine), ...kids.map(unitNode));
      return el(
        "li",
        { dataset: { unitNode: u.id } },
        el(
          "div",
          { class: "unit-line" },
          el(
            "label",
            { class: "check" },
            el("input", { type: "checkbox", dataset: { unit: u.id }, "aria-label": u.name }),
            el("span", { class: "unit-name", text: u.name })
          ),
          el("span", { class: "kind-tag", text: tk("org_kinds", u.kind) })
        ),
        inner
      );
    };
    const nodes = s.shape.roots.map(unitNode);
    const loose = s.shape.epsByUnit.get("") || [];
    if (loose.length)
      nodes.push(el("li", {}, el("div", { class: "unit-line" }, el("span", { class: "unit-name", text: t("sch_unbound") })), el("ul", {}, ...loose.map(epLine))));
    tree.replaceChildren(...nodes);
    if (!nodes.length) tree.append(el("li", { class: "muted-text", text: t("sch_no_units") }));
    syncTreeChecks();
    applySchedFilter();
  }

  // Narrow the tree to what matches (accents and case aside); ticks stay.
  function applySchedFilter() {
    const q = fold($("sch-tree-filter").value.trim());
    const tree = $("sch-tree");
    for (const li of tree.querySelectorAll("li.ep-line")) li.hidden = !!q && !fold(li.textContent).includes(q);
    for (const li of [...tree.querySelectorAll("li[data-unit-node]")].reverse()) {
      const line = li.querySelector(":scope > .unit-line");
      if (!q || fold(line.textContent).includes(q)) {
        for (const x of li.querySelectorAll("li")) x.hidden = false;
        li.hidden = false;
        continue;
      }
      li.hidden = !li.querySelector(":scope > ul > li:not([hidden])");
    }
  }
  $("sch-tree-filter").addEventListener("input", applySchedFilter);

  // Unit boxes: ticked when every room below is, half when some are.
  function syncTreeChecks() {
    const s = sched;
    if (!s || !s.shape) return;
    const hub = $("sch-hub").value;
    for (const box of $("sch-tree").querySelectorAll("input[data-unit]")) {
      const ids = endpointsUnder(box.dataset.unit).filter((e) => e !== hub);
      const on = ids.filter((e) => s.selected.has(e)).length;
      box.disabled = ids.length === 0;
      box.checked = ids.length > 0 && on === ids.length;
      box.indeterminate = on > 0 && on < ids.length;
    }
    for (const box of $("sch-tree").querySelectorAll("input[data-endpoint]")) {
      if (box.dataset.endpoint !== hub) box.checked = s.selected.has(box.dataset.endpoint);
    }
    const n = [...s.selected].filter((e) => e !== hub).length + (hub ? 1 : 0);
    $("sch-count").textContent = t("sch_count", { n });
  }

  function endpointsUnder(unitId) {
    const s = sched;
    const out = [];
    for (const u of subtreeIds(s.shape, unitId)) for (const e of s.shape.epsByUnit.get(u) || []) out.push(e.id);
    return out;
  }

  // A field's refusal goes away as soon as it is edited.
  function clearOwnError(ev) {
    const id = ev.target && ev.target.id;
    if (!id) return;
    const box = $(`${id}-error`);
    if (box) {
      box.hidden = true;
      box.textContent = "";
    }
    ev.target.removeAttribute("aria-invalid");
  }
  for (const form of ["sch-form", "ep-form"]) {
    $(form).addEventListener("input", clearOwnError);
    $(form).addEventListener("change", clearOwnError);
  }

  // The chosen times said in full, in province time, under their inputs.
  function vnLong(ms) {
    const d = new Date(ms + VN_MS);
    const stamp = vnTime(ms);
    return t("sch_at", { day: tk("weekdays", WEEKDAYS[(d.getUTCDay() + 6) % 7]), date: stamp.slice(6), time: stamp.slice(0, 5) });
  }
  function drawTimeHints() {
    const start = localInputToMs($("sch-start").value);
    const end = localInputToMs($("sch-end").value);
    $("sch-start-hint").textContent = start === null ? "" : vnLong(start);
    let endText = end === null ? "" : vnLong(end);
    if (start !== null && end !== null && end > start) {
      const mins = Math.round((end - start) / 60000);
      endText += ` · ${t("sch_duration", { h: Math.floor(mins / 60), m: mins % 60 })}`;
    }
    $("sch-end-hint").textContent = endText;
  }
  for (const id of ["sch-start", "sch-end"]) {
    $(id).addEventListener("input", drawTimeHints);
    $(id).addEventListener("change", drawTimeHints);
  }

  $("sch-tree").addEventListener("change", (ev) => {
    const box = ev.target;
    if (!sched || !(box instanceof HTMLInputElement)) return;
    $("sch-participants-error").hidden = true;
    if (box.dataset.endpoint) {
      if (box.checked) sched.selected.add(box.dataset.endpoint);
      else sched.selected.delete(box.dataset.endpoint);
    } else if (box.dataset.unit) {
      const hub = $("sch-hub").value;
      for (const e of endpointsUnder(box.dataset.unit)) {
        if (e === hub) continue;
        if (box.checked) sched.selected.add(e);
        else sched.selected.delete(e);
      }
    }
    syncTreeChecks();
  });
  $("sch-hub").addEventListener("change", () => {
    if (!sched) return;
    sched.selected.delete($("sch-hub").value);
    drawSchedTree();
  });
  // A new kind brings its default access policy, unless the planner chose one.
  $("sch-policy").addEventListener("change", () => {
    $("sch-policy").dataset.touched = "1";
  });
  $("sch-mute-entry").addEventListener("change", () => {
    $("sch-mute-entry").dataset.touched = "1";
  });
  $("sch-kind").addEventListener("change", () => {
    if (!$("sch-mute-entry").dataset.touched) $("sch-mute-entry").checked = defaultMute($("sch-kind").value);
    if (!$("sch-policy").dataset.touched) $("sch-policy").value = defaultPolicy($("sch-kind").value);
  });
  $("sch-freq").addEventListener("change", () => {
    $("sch-interval-unit").textContent = t(`unit_${$("sch-freq").value}`);
    $("sch-weekdays").hidden = $("sch-freq").value !== "weekly";
  });
  $("sch-repeat").addEventListener("change", () => {
    $("sch-rec").hidden = !$("sch-repeat").checked;
  });
  // The tree follows the meeting's date: units merged since are shown as
  // the meeting will see them.
  $("sch-start").addEventListener("change", async () => {
    const s = sched;
    const ms = localInputToMs($("sch-start").value);
    if (!s || !s.org || ms === null || vnDate(ms) === s.org.on) return;
    const gen = ++s.gen;
    try {
      const org = await loadOrg(vnDate(ms));
      if (sched !== s || s.gen !== gen) return;
      s.org = scopedOrg(org);
      s.shape = shapeTree(s.org.units, s.org.endpoints);
      drawSchedule();
    } catch (e) {
      log("org reload", errorText(e));
    }
  });

  function queryText(q) {
    const s = sched;
    const unit = s.org.units.find((u) => u.id === q.unit_id);
    const name = unit ? unit.name : q.unit_id;
    const kinds = q.kinds.length ? q.kinds.map((k) => tk("org_kinds_plural", k)).join(", ") : t("sch_q_all_kinds");
    return t(q.include_self ? "sch_q_text_self" : "sch_q_text", { unit: name, kinds });
  }
  // What the query reaches on the tree shown (the server resolves it again
  // at the meeting's date).
  function queryPreview(q) {
    const s = sched;
    const ids = subtreeIds(s.shape, q.unit_id).filter((id) => {
      if (id === q.unit_id) return q.include_self;
      const u = s.org.units.find((x) => x.id === id);
      return u && (!q.kinds.length || q.kinds.includes(u.kind));
    });
    const eps = ids.reduce((n, id) => n + (s.shape.epsByUnit.get(id) || []).length, 0);
    return t("sch_q_preview", { units: ids.length, eps });
  }
  function drawQueries() {
    const s = sched;
    const list = $("sch-queries");
    list.replaceChildren(
      ...s.queries.map((q, i) =>
        el(
          "li",
          { dataset: { unit: q.unit_id } },
          el("span", { class: "q-text" }, queryText(q), el("br"), el("span", { class: "muted-text", text: queryPreview(q) })),
          el("button", {
            class: "btn btn-small",
            type: "button",
            text: t("sch_q_remove"),
            onclick: () => {
              s.queries.splice(i, 1);
              drawQueries();
            },
          })
        )
      )
    );
    if (!s.queries.length) list.append(el("li", { class: "muted-text", text: t("sch_q_empty") }));
  }
  $("sch-q-add").addEventListener("click", () => {
    const s = sched;
    if (!s || !s.org) return;
    const box = $("sch-queries-error");
    box.hidden = true;
    $("sch-q-unit").removeAttribute("aria-invalid");
    const unit_id = $("sch-q-unit").value;
    if (!unit_id) {
      box.textContent = t("sch_q_need_unit");
      box.hidden = false;
      $("sch-q-unit").setAttribute("aria-invalid", "true");
      $("sch-q-unit").focus();
      return;
    }
    const kinds = [...$("sch-q-kinds").querySelectorAll("input:checked")].map((i) => i.value);
    s.queries.push({ unit_id, kinds, include_self: $("sch-q-self").checked });
    $("sch-participants-error").hidden = true;
    drawQueries();
  });

  function intOrNull(v) {
    const text = String(v).trim();
    if (text === "") return null;
    return /^\d+$/.test(text) ? Number(text) : NaN;
  }

  // The draft from the form, and the refusals found before sending.
  function collectSchedule() {
    const s = sched;
    const errs = [];
    const title = $("sch-title").value.trim();
    if (!title) errs.push(["title", t("v_title")]);
    else if ([...title].length > 300) errs.push(["title", t("v_title_long")]);
    const start = localInputToMs($("sch-start").value);
    const end = localInputToMs($("sch-end").value);
    if (start === null) errs.push(["start", t("v_start")]);
    if (end === null) errs.push(["end", t("v_end")]);
    else if (start !== null && end <= start) errs.push(["end", t("v_end_before")]);
    else if (start !== null && end - start > MAX_MEETING_MS) errs.push(["end", t("v_too_long")]);
    const hub = $("sch-hub").value || null;
    // In the order ticked (an edit keeps the meeting's order); rooms picked
    // before the tree's date moved stay, even if no longer listed.
    const endpoint_ids = [...s.selected].filter((id) => id !== hub);
    if (!hub && !endpoint_ids.length && !s.queries.length) errs.push(["participants", t("v_participants")]);
    const people = intOrNull($("sch-people").value);
    if (people !== null && !(people >= 1 && people <= 100000)) errs.push(["people", t("v_people")]);
    const quorum = intOrNull($("sch-quorum").value);
    if (quorum !== null && !(quorum >= 1 && quorum <= 100)) errs.push(["quorum", t("v_quorum")]);
    const draft = {
      title,
      kind: $("sch-kind").value,
      description: $("sch-description").value.trim(),
      starts_at_ms: start,
      ends_at_ms: end,
      hub_endpoint_id: hub,
      endpoint_ids,
      unit_queries: s.queries.map((q) => ({ unit_id: q.unit_id, kinds: q.kinds, include_self: q.include_self })),
      chair_user_id: $("sch-chair").value || null,
      secretary_user_id: $("sch-secretary").value || null,
      access_policy: $("sch-policy").value || null,
      mute_on_entry: $("sch-mute-entry").checked,
      body_id: $("sch-body").value || null,
      members: [...$("sch-members").querySelectorAll("input[type=checkbox]:checked")].map((c) => ({
        user_id: c.value,
        role: $("sch-members").querySelector(`select[data-user="${c.value}"]`).value,
      })),
      expected_people: people,
      quorum_percent: quorum,
    };
    if (!s.id && $("sch-repeat").checked) {
      const interval = intOrNull($("sch-interval").value);
      const rule = { freq: $("sch-freq").value, interval: interval === null ? 1 : interval };
      if (!(rule.interval >= 1 && rule.interval <= 12)) errs.push(["recurrence", t("v_interval"), "sch-interval"]);
      if (rule.freq === "weekly") rule.by_weekday = [...$("sch-weekdays").querySelectorAll("input:checked")].map((i) => i.value);
      if ($("sch-rec-by-until").checked) {
        const until = $("sch-until").value;
        if (!until || (start !== null && until < vnDate(start))) errs.push(["recurrence", t("v_until"), "sch-until"]);
        rule.until = until;
      } else {
        const count = intOrNull($("sch-count").value);
        if (!(count >= 1 && count <= 200)) errs.push(["recurrence", t("v_count"), "sch-count"]);
        rule.count = count;
      }
      draft.recurrence = rule;
    }
    return { draft, errs };
  }

  // The server's field (`ends_at_ms`, `endpoint_ids[1]`, `recurrence.count`)
  // → the form's field and its sentence.
  function scheduleField(serverField, message) {
    const f = serverField || "";
    const head = f.split(/[.[]/)[0];
    const map = {
      title: ["title", "sv_title"],
      kind: ["kind", "sv_kind"],
      description: ["description", "sv_description"],
      starts_at_ms: ["start", "sv_start"],
      ends_at_ms: ["end", /24 hours/.test(message || "") ? "sv_end_long" : "sv_end"],
      hub_endpoint_id: ["hub", "sv_hub"],
      endpoint_ids: ["participants", "sv_participants"],
      unit_queries: ["queries", "sv_queries"],
      chair_user_id: ["chair", "sv_chair"],
      secretary_user_id: ["secretary", "sv_secretary"],
      expected_people: ["people", "sv_people"],
      quorum_percent: ["quorum", "sv_quorum"],
      recurrence: ["recurrence", "sv_recurrence"],
    };
    return map[head] || null;
  }

  function showServerError(e, formId, generalId, fieldOf) {
    const mapped = e instanceof ApiError && e.field ? fieldOf(e.field, e.message) : null;
    if (mapped && e.code === "invalid") {
      const [name, key] = mapped;
      if (fieldError(formId, name, t(key), t("server_detail", { message: e.message }))) {
        focusFirstError($(`${formId}-form`));
        return;
      }
    }
    if (mapped && fieldError(formId, mapped[0], errorText(e))) {
      focusFirstError($(`${formId}-form`));
      return;
    }
    formError(generalId, errorText(e));
    if (e instanceof ApiError && e.status === 401) showLogin();
  }

  $("sch-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const s = sched;
    if (!s || !s.org) return;
    const form = $("sch-form");
    clearFieldErrors(form);
    const { draft, errs } = collectSchedule();
    if (errs.length) {
      for (const [name, text, input] of errs) {
        fieldError("sch", name, text);
        if (input) $(input).setAttribute("aria-invalid", "true");
      }
      log("schedule refused before sending", errs.map((x) => x[0]).join(","));
      focusFirstError(form);
      return;
    }
    const button = $("sch-submit");
    button.disabled = true;
    try {
      if (s.id) {
        const body = Object.assign({}, draft);
        delete body.recurrence;
        const saved = await api("PATCH", `/api/v1/meetings/${encodeURIComponent(s.id)}`, body);
        toast(t("saved", { title: saved.title }), "ok");
      } else {
        const made = await api("POST", "/api/v1/meetings", draft);
        const list = made.meetings || [];
        toast(list.length > 1 ? t("scheduled_many", { n: list.length, title: draft.title }) : t("scheduled_one", { title: draft.title }), "ok");
      }
      if (sched === s) go("/console");
    } catch (e) {
      log("schedule refused", e.code, e.field || "", e.message);
      showServerError(e, "sch", "sch-error", scheduleField);
    } finally {
      button.disabled = false;
    }
  });
  for (const id of ["sch-back", "sch-cancel"]) $(id).addEventListener("click", () => go("/console"));
  $("btn-schedule").addEventListener("click", () => go("/console/schedule"));

  async function cancelMeeting(button, m) {
    if (!(await confirmBox(t("confirm_cancel", { title: m.title })))) return;
    // One occurrence of a series: the later ones too, if the operator says so.
    const whole_series = !!m.series_id && (await confirmBox(t("confirm_cancel_series")));
    const done = await act(button, () => api("POST", `/api/v1/meetings/${encodeURIComponent(m.id)}/cancel`, { whole_series }));
    if (!done) return;
    const n = (done.meetings || []).length;
    toast(n > 1 ? t("cancelled_many", { n, title: m.title }) : t("cancelled_done", { title: m.title }), "ok");
    for (const c of done.meetings || []) {
      const i = meetingsCache.findIndex((x) => x.id === c.id);
      if (i >= 0) meetingsCache[i] = c;
    }
    drawMeetings();
  }

  // ------------------------------------------------------------ bodies
  // Bodies and their dated members live in web/bodies.js; it borrows the
  // console's API client, error toasts, rights and language.
  // The trust anchors and CRLs live in web/trust.js, mounted like bodies.
  function openTrust() {
    showOnly("view-signatures");
    $("crumbs").textContent = t("nav_signatures");
    window.DiemcauTrust.mount($("view-signatures"), { api, act, toast, may, lang: () => lang });
  }

  function openBodies() {
    showOnly("view-bodies");
    $("crumbs").textContent = t("nav_bodies");
    window.DiemcauBodies.mount($("view-bodies"), { api, act, toast, may, lang: () => lang });
  }

  // ------------------------------------------------------------ readiness
  // The technical check's board lives in web/readiness.js.
  function openReadiness(id) {
    showOnly("view-readiness");
    $("crumbs").textContent = t("act_readiness");
    window.DiemcauReadiness.mount($("view-readiness"), { api, act, toast, may, go, meetingId: id, lang: () => lang });
  }

  // ------------------------------------------------------------ endpoint registry
  // The org tree as of today with each unit's rooms; create (the token is
  // shown once), rotate, revoke; CSV import of units (all or nothing).
  const LINKS = ["fibre", "4g", "3g", "vsat"];
  let reg = null; // { org, shape }

  async function openRegistry() {
    showOnly("view-endpoints");
    $("crumbs").textContent = t("reg_title");
    $("btn-ep-new").hidden = !may("endpoints_write");
    $("reg-filter").placeholder = t("reg_filter");
    $("import-card").hidden = !may("org_write");
    await loadRegistry();
  }

  async function loadRegistry() {
    const org = await act(null, () => loadOrg(null));
    if (!org || $("view-endpoints").hidden) return;
    reg = { org, shape: shapeTree(org.units, org.endpoints) };
    drawRegistry();
  }

  function drawRegistry() {
    if (!reg) return;
    const { org, shape } = reg;
    const write = may("endpoints_write");
    const revoked = org.endpoints.filter((e) => e.revoked_at_ms).length;
    $("reg-summary").textContent = t("reg_summary", { units: org.units.length, eps: org.endpoints.length, revoked, on: org.on });
    const table = (eps) =>
      el(
        "table",
        { class: "reg-eps" },
        el(
          "thead",
          {},
          el("tr", {}, ...["reg_col_name", "reg_col_room", "reg_col_tech", "reg_col_link", "reg_col_state"].map((k) => el("th", { text: t(k) })), write ? el("th", { text: t("reg_col_actions") }) : null)
        ),
        el("tbody", {}, ...eps.map(endpointRow))
      );
    const endpointRow = (e) => {
      const state = e.revoked_at_ms ? "revoked" : "active";
      const actions = write
        ? el(
            "td",
            {},
            el(
              "div",
              { class: "actions" },
              el("button", { class: "btn btn-small", type: "button", dataset: { action: "edit-endpoint" }, text: t("reg_edit"), onclick: () => openEndpointDialog(e.unit ? e.unit.id : "", e) }),
              el("button", { class: "btn btn-small", type: "button", dataset: { action: "rotate" }, text: t("reg_rotate"), onclick: (ev) => rotateToken(ev.currentTarget, e) }),
              el("button", { class: "btn btn-small", type: "button", dataset: { action: "sip" }, text: t("reg_sip"), onclick: (ev) => issueSip(ev.currentTarget, e) }),
              e.revoked_at_ms ? null : el("button", { class: "btn btn-small btn-danger", type: "button", dataset: { action: "revoke" }, text: t("reg_revoke"), onclick: (ev) => revokeToken(ev.currentTarget, e) })
            )
          )
        : null;
      return el(
        "tr",
        { dataset: { endpoint: e.id, state } },
        el("td", {}, el("div", { class: "ep-name", text: e.name })),
        el("td", { text: e.room || "—" }),
        el("td", {}, e.technician_name || "—", e.technician_phone ? el("br") : null, e.technician_phone ? el("a", { href: `tel:${e.technician_phone.replace(/\s+/g, "")}`, text: e.technician_phone }) : null),
        el("td", {}, el("span", { class: "link-tag", dataset: { link: e.link }, title: `≤ ${e.max_kbps} kbit/s`, text: tk("links", e.link) })),
        el("td", {}, el("span", { class: `badge badge-${state}`, text: t(`reg_${state}`) })),
        actions
      );
    };
    const unitBox = (u) => {
      const eps = shape.epsByUnit.get(u.id) || [];
      const kids = shape.children.get(u.id) || [];
      return el(
        "section",
        { class: "reg-unit", dataset: { unit: u.id, kind: u.kind } },
        el(
          "div",
          { class: "reg-unit-head" },
          el("span", { class: "unit-name", text: u.name }),
          el("span", { class: "kind-tag", text: tk("org_kinds", u.kind) }),
          el("span", { class: "unit-code", text: u.code }),
          write
            ? el("button", { class: "btn btn-small", type: "button", dataset: { action: "add-endpoint" }, text: t("reg_add_here"), onclick: () => openEndpointDialog(u.id) })
            : null
        ),
        el("div", { class: "reg-unit-body" }, eps.length ? table(eps) : el("div", { class: "muted-text", text: t("reg_no_eps") }), ...kids.map(unitBox))
      );
    };
    const boxes = shape.roots.map(unitBox);
    const loose = shape.epsByUnit.get("") || [];
    if (loose.length)
      boxes.push(
        el("section", { class: "reg-unit", dataset: { unit: "" } }, el("div", { class: "reg-unit-head" }, el("span", { class: "unit-name", text: t("reg_unbound") })), el("div", { class: "reg-unit-body" }, table(loose)))
      );
    $("reg-tree").replaceChildren(...boxes);
    applyRegFilter();
  }

  // Find a unit or a room among ~200: accents and case do not matter.
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
  }
  function applyRegFilter() {
    const q = fold($("reg-filter").value.trim());
    const tree = $("reg-tree");
    for (const tr of tree.querySelectorAll("tr[data-endpoint]")) tr.hidden = !!q && !fold(tr.textContent).includes(q);
    for (const table of tree.querySelectorAll("table.reg-eps")) table.hidden = !!q && !table.querySelector("tr[data-endpoint]:not([hidden])");
    // Innermost units first: a unit shows when it matches or holds a match.
    for (const sec of [...tree.querySelectorAll("section.reg-unit")].reverse()) {
      const head = sec.querySelector(":scope > .reg-unit-head");
      const own = !q || fold(head.textContent).includes(q);
      if (own) {
        for (const x of sec.querySelectorAll("tr[data-endpoint], table.reg-eps, section.reg-unit")) x.hidden = false;
        sec.hidden = false;
        continue;
      }
      const body = sec.querySelector(":scope > .reg-unit-body");
      const rows = body.querySelectorAll(":scope > table tr[data-endpoint]:not([hidden])").length;
      const kids = body.querySelectorAll(":scope > section.reg-unit:not([hidden])").length;
      sec.hidden = rows + kids === 0;
    }
  }
  $("reg-filter").addEventListener("input", applyRegFilter);

  // Units a sub-operator may bind rooms to: their own subtree.
  function writableUnits() {
    return reg ? scopeUnits("endpoints_write", reg.shape) : null;
  }

  // Add a room (`ep` absent) or edit one's details (its unit binding is
  // dated and follows the org tree: not edited here).
  let epEditing = null;
  function openEndpointDialog(unitId, ep) {
    if (!reg) return;
    epEditing = ep || null;
    const form = $("ep-form");
    form.reset();
    clearFieldErrors(form);
    const units = ep ? flatUnits(reg.shape) : flatUnits(reg.shape, writableUnits());
    fillSelect($("ep-unit"), [el("option", { value: "", text: t("ep_unit_pick") }), ...units.map(({ unit, depth }) => unitOption(unit, depth))], unitId || "");
    fillSelect($("ep-link"), LINKS.map((l) => el("option", { value: l, text: tk("links", l) })), ep ? ep.link : "fibre");
    $("ep-unit").disabled = !!ep;
    $("ep-unit").title = ep ? t("ep_unit_fixed") : "";
    $("ep-heading").textContent = t(ep ? "ep_heading_edit" : "ep_heading");
    $("ep-submit").textContent = t(ep ? "ep_save" : "ep_submit");
    if (ep) {
      $("ep-name").value = ep.name;
      $("ep-room").value = ep.room || "";
      $("ep-tech").value = ep.technician_name || "";
      $("ep-phone").value = ep.technician_phone || "";
    }
    $("ep-dialog").showModal();
    $("ep-name").focus();
  }
  $("btn-ep-new").addEventListener("click", () => openEndpointDialog(""));
  $("btn-ep-refresh").addEventListener("click", () => loadRegistry());
  $("ep-cancel").addEventListener("click", () => $("ep-dialog").close());

  function endpointField(serverField) {
    const map = {
      name: ["name", "sv_name"],
      room: ["room", "sv_room"],
      technician_name: ["tech", "sv_tech"],
      technician_phone: ["phone", "sv_phone"],
      link: ["link", "sv_link"],
      unit_id: ["unit", "sv_unit"],
      bound_from: ["unit", "sv_unit"],
    };
    return map[serverField] || null;
  }

  $("ep-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = $("ep-form");
    clearFieldErrors(form);
    const body = {
      name: $("ep-name").value.trim(),
      room: $("ep-room").value.trim(),
      technician_name: $("ep-tech").value.trim(),
      technician_phone: $("ep-phone").value.trim(),
      link: $("ep-link").value,
      unit_id: $("ep-unit").value,
    };
    const editing = epEditing;
    let bad = false;
    if (!body.name) bad = fieldError("ep", "name", t("ep_need_name")) || true;
    if (!editing && !body.unit_id) bad = fieldError("ep", "unit", t("ep_need_unit")) || true;
    if (bad) {
      focusFirstError(form);
      return;
    }
    const button = $("ep-submit");
    button.disabled = true;
    try {
      if (editing) {
        delete body.unit_id;
        const saved = await api("PATCH", `/api/v1/endpoints/${encodeURIComponent(editing.id)}`, body);
        $("ep-dialog").close();
        toast(t("ep_saved", { name: saved.name }), "ok");
        loadRegistry();
        return;
      }
      const made = await api("POST", "/api/v1/endpoints", body);
      $("ep-dialog").close();
      showToken(made.endpoint.name, made.token, "token_heading_new");
      loadRegistry();
    } catch (e) {
      log("endpoint refused", e.code, e.field || "", e.message);
      showServerError(e, "ep", "ep-error", endpointField);
    } finally {
      button.disabled = false;
    }
  });

  // The token, once: nothing keeps it after the dialog closes.
  function showToken(name, token, headingKey) {
    $("token-heading").textContent = t(headingKey, { name });
    $("token-value").value = token;
    $("token-copied").hidden = true;
    $("token-dialog").showModal();
    $("token-value").focus();
    $("token-value").select();
  }
  $("token-copy").addEventListener("click", async () => {
    const input = $("token-value");
    const note = $("token-copied");
    let ok = false;
    try {
      await navigator.clipboard.writeText(input.value);
      ok = true;
    } catch (_) {
      input.select();
      try {
        ok = document.execCommand("copy");
      } catch (_) {
        ok = false;
      }
    }
    note.textContent = t(ok ? "token_copied" : "token_copy_failed");
    note.hidden = false;
  });
  $("token-close").addEventListener("click", () => $("token-dialog").close());
  $("token-dialog").addEventListener("close", () => {
    $("token-value").value = "";
    $("token-copied").hidden = true;
  });

  async function rotateToken(button, e) {
    if (!(await confirmBox(t("reg_confirm_rotate", { name: e.name })))) return;
    const issued = await act(button, () => api("POST", `/api/v1/endpoints/${encodeURIComponent(e.id)}/token`, {}));
    if (!issued) return;
    showToken(e.name, issued.token, "token_heading_rotated");
    loadRegistry();
  }

  // A room codec's SIP account (user, password, realm), shown once in the
  // token dialog as one line to copy.
  async function issueSip(button, e) {
    if (!(await confirmBox(t("reg_confirm_sip", { name: e.name })))) return;
    const issued = await act(button, () => api("POST", `/api/v1/endpoints/${encodeURIComponent(e.id)}/sip-password`, {}));
    if (!issued) return;
    showToken(e.name, `user=${issued.sip_user} password=${issued.password} realm=${issued.realm}`, "sip_heading");
  }

  async function revokeToken(button, e) {
    if (!(await confirmBox(t("reg_confirm_revoke", { name: e.name })))) return;
    const done = await act(button, async () => {
      await api("DELETE", `/api/v1/endpoints/${encodeURIComponent(e.id)}/token`);
      return true;
    });
    if (!done) return;
    toast(t("reg_revoked_done", { name: e.name }), "ok");
    loadRegistry();
  }

  // An import refusal names `row N.column` (CSV; the header is row 1) or
  // `item N.column` (JSON): said in the chosen language, the server's own
  // words below it.
  function importErrorText(e) {
    const m = e instanceof ApiError && e.field ? /^(row|item) (\d+)\.(\w+)$/.exec(e.field) : null;
    if (m) {
      const [, place, n, column] = m;
      return t(place === "row" ? "imp_row" : "imp_item", { n, column, label: tk("imp_columns", column), reason: tk("imp_reasons", column) });
    }
    return errorText(e);
  }

  $("import-submit").addEventListener("click", async () => {
    const errBox = $("import-error");
    const okBox = $("import-ok");
    errBox.hidden = okBox.hidden = true;
    errBox.replaceChildren();
    const file = $("import-file").files && $("import-file").files[0];
    let text = "";
    try {
      text = file ? await file.text() : $("import-text").value;
    } catch (e) {
      text = "";
    }
    if (!text.trim()) {
      errBox.textContent = t("imp_empty");
      errBox.hidden = false;
      return;
    }
    const button = $("import-submit");
    button.disabled = true;
    try {
      const done = await api("POST", "/api/v1/org/import", text, "text/csv; charset=utf-8");
      okBox.textContent = t("imp_done", { n: (done.units || []).length });
      okBox.hidden = false;
      okBox.scrollIntoView({ block: "center" });
      $("import-file").value = "";
      $("import-text").value = "";
      loadRegistry();
    } catch (e) {
      log("import refused", e.code, e.field || "", e.message);
      errBox.replaceChildren(
        el("div", { class: "import-reason", text: importErrorText(e) }),
        e instanceof ApiError && e.code !== "network" ? el("div", { class: "import-detail", text: t("server_detail", { message: e.message }) }) : null,
        el("div", { class: "import-nothing", text: t("imp_nothing") })
      );
      errBox.hidden = false;
      errBox.scrollIntoView({ block: "center" });
      if (e instanceof ApiError && e.status === 401) showLogin();
    } finally {
      button.disabled = false;
    }
  });

  // ------------------------------------------------------------ cascade links
  // GET /api/v1/cascade every 2 s while the view is open: this node's place
  // in the tree, its parent link, its relay links per open meeting (rates
  // as bars against the link's budget), its child nodes and their relays.
  // Admins register child nodes (credential shown once), rotate, revoke.
  const CASCADE_POLL_MS = 2000;
  let cas = null;
  const meetingTitles = new Map();

  function openCascade() {
    showOnly("view-cascade");
    $("crumbs").textContent = t("cas_title");
    $("btn-cas-new").hidden = true;
    if (!cas) cas = { view: null, timer: null, polls: 0, gen: 0 };
    refreshCascade();
  }

  function closeCascade() {
    if (cas && cas.timer) clearTimeout(cas.timer);
    cas = null;
    meetingTitles.clear();
    for (const id of ["cas-crumbs", "cas-parent", "cas-relays", "cas-children-body", "cas-child-relays"]) $(id).replaceChildren();
  }

  async function pollCascade(gen) {
    if (!cas || cas.gen !== gen) return;
    if (cas.timer) clearTimeout(cas.timer);
    cas.timer = null;
    if ($("view-cascade").hidden) return;
    await loadCascade();
    if (cas && cas.gen === gen && !$("view-cascade").hidden) cas.timer = setTimeout(() => pollCascade(gen), CASCADE_POLL_MS);
  }

  async function loadCascade() {
    let view;
    try {
      view = await api("GET", "/api/v1/cascade");
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return showLogin();
      alertBar(errorText(e), "red", "cascade");
      return;
    }
    clearAlert("cascade");
    if (!cas || $("view-cascade").hidden) return;
    cas.view = view;
    cas.polls += 1;
    for (const id of new Set([...view.relay_links, ...view.child_relays].map((r) => r.meeting_id))) lookUpMeeting(id);
    drawCascade();
  }

  // A meeting's title, asked once; the view is drawn again when it comes.
  function lookUpMeeting(id) {
    if (meetingTitles.has(id)) return;
    const known = meetingsCache.find((m) => m.id === id);
    if (known) return meetingTitles.set(id, known.title);
    meetingTitles.set(id, null);
    api("GET", `/api/v1/meetings/${encodeURIComponent(id)}`).then(
      (m) => {
        meetingTitles.set(id, m.title);
        drawCascade();
      },
      (e) => log("cascade meeting title", id, errorText(e))
    );
  }
  function meetingTitle(id) {
    return meetingTitles.get(id) || t("cas_meeting_loading", { id });
  }

  function ago(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 120) return t("cas_ago_s", { n: s });
    if (s < 7200) return t("cas_ago_m", { n: Math.round(s / 60) });
    return t("cas_ago_h", { n: Math.round(s / 3600) });
  }
  function rate(bps) {
    if (bps >= 1e6) return `${(bps / 1e6).toFixed(bps >= 1e7 ? 0 : 1)} Mbit/s`;
    return `${Math.round(bps / 1000)} kbit/s`;
  }
  function bytes(n) {
    if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
    if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
    return `${Math.round(n / 1000)} kB`;
  }
  // A link's state as a coloured badge: "up", "down" or "never" (no hello yet).
  function linkBadge(state, extra) {
    return el("span", { class: `badge badge-link badge-link-${state}`, dataset: { link: state }, text: t(`cas_${state}`) }, extra || null);
  }

  // A rate as a horizontal bar against the budget (the picture), and the figures.
  function rateBar(dir, bps, budgetKbps) {
    const budget = Math.max(1, budgetKbps) * 1000;
    const pct = Math.min(100, (bps / budget) * 100);
    const level = pct >= 90 ? "bad" : pct >= 70 ? "warn" : "good";
    return el(
      "div",
      { class: "cas-bar", dataset: { dir, level, bps: String(bps) } },
      el("span", { class: "cas-bar-label", text: t(dir === "up" ? "cas_relay_up" : "cas_relay_down") }),
      el(
        "div",
        { class: "cas-bar-track", role: "meter", "aria-valuemin": "0", "aria-valuemax": String(budget), "aria-valuenow": String(bps), "aria-label": t(dir === "up" ? "cas_relay_up" : "cas_relay_down") },
        el("div", { class: "cas-bar-fill", style: `width: ${pct.toFixed(1)}%` })
      ),
      el("span", { class: "cas-bar-value", text: `${rate(bps)} / ${rate(budget)}` })
    );
  }

  function drawCascade() {
    if (!cas || !cas.view || $("view-cascade").hidden) return;
    const v = cas.view;
    const standalone = !v.node_id;
    $("cas-standalone").hidden = !standalone;
    $("cas-body").hidden = standalone;
    const write = may("cascade_write");
    $("btn-cas-new").hidden = standalone || !write;
    if (standalone) return;

    // 1. This node: the path from the top down to it, and its parent link.
    const p = v.parent;
    const names = [...v.ancestors].reverse().map((id) => (p && p.parent_id === id && p.parent_name ? p.parent_name : id));
    const crumbs = [...names.map((n) => el("span", { class: "cas-crumb", text: n })), el("span", { class: "cas-crumb cas-self", "aria-current": "location", text: v.name || v.node_id })];
    $("cas-crumbs").replaceChildren(...crumbs.flatMap((c, i) => (i ? [el("span", { class: "cas-sep", "aria-hidden": "true", text: " › " }), c] : [c])));
    $("cas-crumbs").append(el("span", { class: "cas-node-id", text: ` (${v.node_id})` }));
    if (!p) {
      $("cas-parent").replaceChildren(el("p", { class: "muted-text", dataset: { parent: "none" }, text: t("cas_top") }));
    } else {
      const facts = [
        t("cas_parent", { name: p.parent_name || p.parent_id || "—" }),
        t("cas_parent_url", { url: p.url }),
        p.rtt_ms !== null && p.rtt_ms !== undefined ? t("cas_rtt", { ms: p.rtt_ms }) : null,
        p.last_hello_ms ? t("cas_last_hello", { when: ago(p.last_hello_ms) }) : null,
        p.since_ms ? t("cas_since", { when: vnTime(p.since_ms) }) : null,
      ].filter(Boolean);
      $("cas-parent").replaceChildren(
        el(
          "div",
          { class: "cas-parent-line", dataset: { parent: p.state } },
          linkBadge(p.state),
          ...facts.map((f) => el("span", { class: "cas-fact", text: f }))
        ),
        ...(p.state !== "up" && p.last_error ? [el("div", { class: "cas-error", role: "status", text: t("cas_last_error", { error: p.last_error }) })] : [])
      );
    }

    // 2. Relay links to the parent, one per open meeting.
    if (!v.relay_links.length) {
      $("cas-relays").replaceChildren(el("p", { class: "muted-text", text: t(p ? "cas_no_relays" : "cas_no_parent_relays") }));
    } else {
      $("cas-relays").replaceChildren(
        ...v.relay_links.map((l) =>
          el(
            "div",
            { class: "cas-relay", dataset: { meeting: l.meeting_id, up: String(l.up) } },
            el(
              "div",
              { class: "cas-relay-head" },
              el("span", { class: "cas-relay-title", text: meetingTitle(l.meeting_id) }),
              el("span", { class: `badge badge-link badge-link-${l.up ? "up" : "down"}`, text: t(l.up ? "cas_relay_link_up" : "cas_relay_link_down") }),
              el("span", { class: "muted-text cas-relinks", text: t("cas_relinks", { n: l.relinks }) }),
              el("span", { class: "muted-text", text: t("cas_budget", { kbps: l.budget_kbps }) })
            ),
            rateBar("up", l.bitrate_up_bps, l.budget_kbps),
            rateBar("down", l.bitrate_down_bps, l.budget_kbps),
            el("div", { class: "muted-text cas-bytes", text: t("cas_bytes", { up: bytes(l.bytes_up), down: bytes(l.bytes_down) }) })
          )
        )
      );
    }

    // 3. Child nodes and their links; admins may rotate and revoke. The
    // registry is in the shared store: this node and its ancestors, which
    // cannot be its children, are left out.
    const above = new Set([v.node_id, ...v.ancestors]);
    const children = v.children.filter((n) => !above.has(n.id));
    $("cas-col-actions").hidden = !write;
    $("cas-children-empty").hidden = children.length > 0;
    $("cas-children-body").closest("table").hidden = children.length === 0;
    $("cas-children-body").replaceChildren(
      ...children.map((n) => {
        const state = n.link ? n.link.state : "down";
        const shown = n.revoked_at_ms ? "revoked" : n.link ? n.link.state : "never";
        return el(
          "tr",
          { dataset: { node: n.id, link: state, revoked: String(!!n.revoked_at_ms) } },
          el("td", {}, el("div", { class: "cas-node-name", text: n.name }), el("div", { class: "muted-text cas-node-id", text: n.id })),
          el("td", {}, el("span", { class: `badge badge-link badge-link-${shown === "up" ? "up" : "down"}`, text: t(`cas_${shown}`) }), n.link ? el("div", { class: "muted-text", text: t("cas_since", { when: vnTime(n.link.since_ms) }) }) : null),
          el("td", { title: n.last_seen_at_ms ? vnTime(n.last_seen_at_ms) : "" }, n.last_seen_at_ms ? ago(n.last_seen_at_ms) : "—", n.last_address ? el("div", { class: "muted-text", text: n.last_address }) : null),
          el("td", { text: n.link && n.link.rtt_ms !== null && n.link.rtt_ms !== undefined ? `${n.link.rtt_ms} ms` : "—" }),
          el("td", { text: `${n.uplink_kbps} kbit/s` }),
          write
            ? el(
                "td",
                {},
                el(
                  "div",
                  { class: "actions" },
                  el("button", { class: "btn btn-small", type: "button", dataset: { action: "rotate-node" }, text: t("cas_rotate"), onclick: (ev) => rotateNode(ev.currentTarget, n) }),
                  n.revoked_at_ms ? null : el("button", { class: "btn btn-small btn-danger", type: "button", dataset: { action: "revoke-node" }, text: t("cas_revoke"), onclick: (ev) => revokeNode(ev.currentTarget, n) })
                )
              )
            : null
        );
      })
    );
    // Which child node relays into which of this node's meetings.
    const byMeeting = new Map();
    for (const r of v.child_relays) {
      if (!byMeeting.has(r.meeting_id)) byMeeting.set(r.meeting_id, []);
      byMeeting.get(r.meeting_id).push(r);
    }
    const nodeName = (id) => (v.children.find((n) => n.id === id) || { name: id }).name;
    $("cas-child-relays").replaceChildren(
      byMeeting.size
        ? el(
            "ul",
            { class: "cas-child-relay-list" },
            ...[...byMeeting].map(([m, rs]) =>
              el(
                "li",
                { dataset: { meeting: m } },
                el("span", { class: "cas-relay-title", text: meetingTitle(m) }),
                ": ",
                rs.map((r) => t("cas_child_relay_item", { node: nodeName(r.node_id), participant: r.participant })).join(", ")
              )
            )
          )
        : el("p", { class: "muted-text", text: t("cas_child_relays_empty") })
    );
  }

  // Poll now, and from now on: one loop at a time (an older one stops).
  function refreshCascade() {
    if (!cas) return;
    cas.gen += 1;
    pollCascade(cas.gen);
  }
  $("btn-cas-refresh").addEventListener("click", refreshCascade);

  // Register a child node: its credential is in the answer only.
  $("btn-cas-new").addEventListener("click", async () => {
    const form = $("cas-form");
    form.reset();
    clearFieldErrors(form);
    // The unit decides which meetings the node carries: the tree as of today.
    fillSelect($("cas-unit"), [el("option", { value: "", text: t("cas_unit_none") })], "");
    $("cas-dialog").showModal();
    $("cas-id").focus();
    const org = await act(null, () => loadOrg(null));
    if (!org || !$("cas-dialog").open) return;
    const shape = shapeTree(org.units, org.endpoints);
    fillSelect($("cas-unit"), [el("option", { value: "", text: t("cas_unit_none") }), ...flatUnits(shape).map(({ unit, depth }) => unitOption(unit, depth))], $("cas-unit").value);
  });
  $("cas-cancel").addEventListener("click", () => $("cas-dialog").close());

  function cascadeField(serverField) {
    const map = { id: ["id", "cas_sv_id"], name: ["name", "cas_sv_name"], uplink_kbps: ["uplink", "cas_sv_uplink"], unit_id: ["unit", "cas_sv_unit"] };
    return map[serverField] || null;
  }

  $("cas-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = $("cas-form");
    clearFieldErrors(form);
    const body = { id: $("cas-id").value.trim(), name: $("cas-name").value.trim() };
    const uplink = $("cas-uplink").value.trim();
    if ($("cas-unit").value) body.unit_id = $("cas-unit").value;
    let bad = false;
    if (!body.id) bad = fieldError("cas", "id", t("cas_need_id")) || true;
    else if (!/^[a-z0-9-]{1,64}$/.test(body.id)) bad = fieldError("cas", "id", t("cas_bad_id")) || true;
    if (!body.name) bad = fieldError("cas", "name", t("cas_need_name")) || true;
    if (uplink) {
      const n = Number(uplink);
      if (!Number.isInteger(n) || n < 100 || n > 1000000) bad = fieldError("cas", "uplink", t("cas_bad_uplink")) || true;
      else body.uplink_kbps = n;
    }
    if (bad) {
      focusFirstError(form);
      return;
    }
    const button = $("cas-submit");
    button.disabled = true;
    try {
      const made = await api("POST", "/api/v1/cascade/nodes", body);
      $("cas-dialog").close();
      showCredential(made.node.name, made.credential, "cas_cred_heading_new");
      refreshCascade();
    } catch (e) {
      log("node refused", e.code, e.field || "", e.message);
      if (e instanceof ApiError && e.code === "duplicate_node") {
        fieldError("cas", "id", errorText(e));
        focusFirstError(form);
      } else showServerError(e, "cas", "cas-error", cascadeField);
    } finally {
      button.disabled = false;
    }
  });

  // The token dialog, worded for a node credential while it shows one.
  function showCredential(name, credential, headingKey) {
    showToken(name, credential, headingKey);
    const warning = $("token-dialog").querySelector(".token-warning");
    warning.dataset.i18n = "cas_cred_warning";
    warning.textContent = t("cas_cred_warning");
  }
  $("token-dialog").addEventListener("close", () => {
    const warning = $("token-dialog").querySelector(".token-warning");
    warning.dataset.i18n = "token_warning";
    warning.textContent = t("token_warning");
  });

  async function rotateNode(button, n) {
    if (!(await confirmBox(t("cas_confirm_rotate", { name: n.name })))) return;
    const issued = await act(button, () => api("POST", `/api/v1/cascade/nodes/${encodeURIComponent(n.id)}/credential`, {}));
    if (!issued) return;
    showCredential(n.name, issued.credential, "cas_cred_heading_rotated");
    refreshCascade();
  }

  async function revokeNode(button, n) {
    if (!(await confirmBox(t("cas_confirm_revoke", { name: n.name })))) return;
    const done = await act(button, async () => {
      await api("DELETE", `/api/v1/cascade/nodes/${encodeURIComponent(n.id)}`);
      return true;
    });
    if (!done) return;
    toast(t("cas_revoked_done", { name: n.name }), "ok");
    refreshCascade();
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
    if (!$("view-schedule").hidden && sched) {
      $("sch-heading").textContent = t(sched.id ? "sch_heading_edit" : "sch_heading_new");
      $("sch-submit").textContent = t(sched.id ? "sch_submit_edit" : "sch_submit_new");
      $("sch-tree-filter").placeholder = t("sch_tree_filter");
      const back = $("crumbs").querySelector("a");
      if (back) back.textContent = t("back");
      if (sched.shape) {
        const keep = { kind: $("sch-kind").value, freq: $("sch-freq").value };
        const days = [...$("sch-weekdays").querySelectorAll("input:checked")].map((i) => i.value);
        const kinds = [...$("sch-q-kinds").querySelectorAll("input:checked")].map((i) => i.value);
        fillSelect($("sch-kind"), MEETING_KINDS.map((k) => el("option", { value: k, text: tk("kinds", k) })), keep.kind);
        fillSelect($("sch-freq"), ["weekly", "monthly", "daily"].map((f) => el("option", { value: f, text: t(`freq_${f}`) })), keep.freq);
        $("sch-weekdays").replaceChildren(...WEEKDAYS.map((d) => el("label", { class: "check" }, el("input", { type: "checkbox", value: d, dataset: { weekday: d }, checked: days.includes(d) }), " ", tk("weekdays", d))));
        $("sch-q-kinds").replaceChildren(...QUERY_KINDS.map((k) => el("label", { class: "check" }, el("input", { type: "checkbox", value: k, dataset: { kind: k }, checked: kinds.includes(k) }), " ", tk("org_kinds", k))));
        drawSchedule();
      }
    }
    if (!$("view-endpoints").hidden) {
      $("crumbs").textContent = t("reg_title");
      $("reg-filter").placeholder = t("reg_filter");
      drawRegistry();
    }
    if (!$("view-cascade").hidden) {
      $("crumbs").textContent = t("cas_title");
      drawCascade();
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
      links: live ? Object.fromEntries([...live.links].map(([k, v]) => [k, { degraded: v.degraded, samples: v.samples.length }])) : null,
      schedule: sched ? { id: sched.id, ready: !!sched.shape, selected: [...sched.selected], queries: sched.queries } : null,
      cascade: cas && cas.view ? { node_id: cas.view.node_id, parent: cas.view.parent ? cas.view.parent.state : null, relays: cas.view.relay_links.length, children: cas.view.children.map((n) => n.id), polls: cas.polls } : null,
      registry: reg ? { on: reg.org.on, units: reg.org.units.length, endpoints: reg.org.endpoints.length } : null,
      media: live && live.media ? { state: live.media.state, participant: live.media.participant || null, slots: live.media.slots, tracks: [...live.media.tracks.keys()], stats: Object.fromEntries(live.media.stats) } : null,
    }),
    log: () => logLines.slice(),
  };

  render();
})();
