// diemcau – the landing page: the English switch, the room form (a room
// that has its meeting code and token but not the link), and the local
// CA's section hidden when the server uses the province's own CA.
(() => {
  const { storedLang, translate } = window.DiemcauCommon;
  const $ = (id) => document.getElementById(id);

  const DICT = {
    vi: {
      app_title: "Cầu truyền hình hội nghị trực tuyến",
      lang_switch: "English",
      who: "Bạn là ai?",
      operator: "Cán bộ điều hành",
      operator_what: "Lập lịch và điều hành cuộc họp, theo dõi các điểm cầu, danh bạ điểm cầu, liên kết tầng.",
      secretary: "Thư ký",
      secretary_what: "Chương trình, tài liệu, biểu quyết và biên bản cuộc họp.",
      delegate: "Đại biểu",
      delegate_what: "Đọc tài liệu theo chương trình, ghi chú riêng, biểu quyết, đăng ký phát biểu.",
      room: "Điểm cầu (phòng họp)",
      room_what: "Mở đường liên kết mà cán bộ điều hành đã gửi cho điểm cầu, hoặc nhập mã cuộc họp và mã truy cập của điểm cầu.",
      room_meeting: "Mã cuộc họp",
      room_token: "Mã truy cập của điểm cầu",
      room_join: "Vào phòng họp",
      room_missing: "Nhập cả mã cuộc họp và mã truy cập.",
      ca_title: "Chứng chỉ CA nội bộ",
      ca_why: "Máy chủ này tự cấp chứng chỉ HTTPS. Để trình duyệt ở máy khác tin cậy nó (và cho phép camera, micrô), tải chứng chỉ CA và nhập vào trình duyệt một lần trên mỗi máy.",
      ca_download: "Tải chứng chỉ CA (diemcau-ca.pem)",
      ca_chrome: "Chrome, Edge, Cốc Cốc: Cài đặt → Quyền riêng tư và bảo mật → Bảo mật → Quản lý chứng chỉ → Tổ chức phát hành chứng chỉ → Nhập.",
      ca_firefox: "Firefox: Cài đặt → Quyền riêng tư và bảo mật → Chứng chỉ → Xem chứng chỉ → Tổ chức phát hành → Nhập, chọn “Tin cậy để nhận dạng trang web”.",
      tech: "Thiết bị mã hóa:",
    },
    en: {
      app_title: "Online conference bridge",
      lang_switch: "Tiếng Việt",
      who: "Who are you?",
      operator: "Operator",
      operator_what: "Schedule and run meetings, watch the rooms, the room registry, the node links.",
      secretary: "Secretary",
      secretary_what: "A meeting's agenda, documents, votes and minutes.",
      delegate: "Delegate",
      delegate_what: "Read the documents by agenda item, private notes, votes, ask to speak.",
      room: "Meeting room (điểm cầu)",
      room_what: "Open the link the operator sent to your room, or enter the meeting code and your room's access code.",
      room_meeting: "Meeting code",
      room_token: "Room access code",
      room_join: "Join the meeting",
      room_missing: "Enter both the meeting code and the access code.",
      ca_title: "The local CA certificate",
      ca_why: "This server made its own HTTPS certificate. For browsers on other machines to trust it (and allow camera and microphone), download the CA certificate and import it into the browser, once per machine.",
      ca_download: "Download the CA certificate (diemcau-ca.pem)",
      ca_chrome: "Chrome, Edge, Cốc Cốc: Settings → Privacy and security → Security → Manage certificates → Authorities → Import.",
      ca_firefox: "Firefox: Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import, tick “Trust this CA to identify websites”.",
      tech: "Encoders:",
    },
  };

  let lang = storedLang();
  const t = (key) => translate(DICT, lang, key);

  function applyText() {
    document.documentElement.lang = lang;
    document.title = t("app_title");
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    $("btn-lang").textContent = t("lang_switch");
  }

  $("btn-lang").hidden = false;
  $("btn-lang").addEventListener("click", () => {
    lang = lang === "vi" ? "en" : "vi";
    try {
      localStorage.setItem("diemcau.lang", lang);
    } catch (_) {
      /* private mode: the choice lasts for this page */
    }
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
})();
