// @ts-check
// Vietnamese (the default) text of the digital signature badges (portal, delegate, room).
export default {
  by: "Đã ký số bởi",
  at: "Ký lúc",
  tsa: "(dấu thời gian tin cậy)",
  claimed: "(theo người ký)",
  cert: "Chứng thư số",
  issuer: "Cấp bởi",
  serial: "Số hiệu",
  valid: "Hiệu lực",
  reason: "Chi tiết",
  path: "Chuỗi chứng thư",
  whole: "Chữ ký bao trùm toàn bộ tệp",
  part: "Tệp có phần thêm vào sau chữ ký này",
  status: {
    valid: "hợp lệ",
    invalid: "không hợp lệ — tệp hoặc chữ ký bị sai lệch",
    untrusted: "không xác định được nguồn tin cậy",
    revoked: "chứng thư số đã bị thu hồi",
    expired: "chứng thư số hết hạn khi ký",
    revocation_unknown: "chưa kiểm tra được tình trạng thu hồi",
    modified_after_signing: "tệp đã bị sửa sau khi ký",
  },
};
