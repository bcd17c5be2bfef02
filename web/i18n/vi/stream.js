// @ts-check
// Vietnamese text of the pages that show the meeting's composite (the live
// stream's player, the hall screen). They show both languages at once,
// Vietnamese first: a hall screen has nobody at it to switch.
export default {
  need_login: "Cần đăng nhập để xem hội nghị này.",
  unreachable: "Không kết nối được máy chủ, đang thử lại…",
  forbidden: "Không có hội nghị này, hoặc bạn không được xem.",
  not_streaming: "Hội nghị chưa phát trực tiếp; trang sẽ tự mở khi bắt đầu.",
  starting: "Đang khởi động luồng phát…",
  error_retry: "Lỗi {status}, đang thử lại…",
  playing: "Đang phát trực tiếp (chậm vài giây so với hội trường).",
  broke_off: "Luồng phát bị ngắt, đang mở lại…",
  ended: "Buổi phát đã kết thúc.",
  live_title: "Truyền hình trực tiếp hội nghị {meeting}",
  lost: "Mất kết nối, đang nối lại…",
  not_ready: "Hội nghị chưa sẵn sàng ({status}), đang thử lại…",
  screen_title: "Màn hình hội trường – {meeting}",
};
