// @ts-check
// English text of the digital signature badges (portal, delegate, room).
export default {
  by: "Digitally signed by",
  at: "Signed at",
  tsa: "(trusted timestamp)",
  claimed: "(as the signer states)",
  cert: "Certificate",
  issuer: "Issued by",
  serial: "Serial",
  valid: "Valid",
  reason: "Details",
  path: "Certificate path",
  whole: "The signature covers the whole file",
  part: "The file has additions after this signature",
  status: {
    valid: "valid",
    invalid: "invalid — the file or the signature was altered",
    untrusted: "not from a trusted authority",
    revoked: "the certificate was revoked",
    expired: "the certificate had expired when signing",
    revocation_unknown: "revocation status unknown",
    modified_after_signing: "the file was changed after signing",
  },
};
