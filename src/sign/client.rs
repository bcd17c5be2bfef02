//! `diemcau sign`: a secretary or chair signs a meeting's final minutes
//! with the key on their USB token, on their own PC, talking to the
//! server's API (the protocol is described in `api::v1::minutes_sign`):
//! open the token (PKCS#11 module, token label or slot, key label, PIN),
//! send the certificate chain to `prepare`, sign the bytes it answers on
//! the token, send the value to `complete`. The private key never leaves
//! the token; the server never sees the PIN.

use std::path::PathBuf;

use base64::Engine;
use der::Encode;
use serde_json::{Value, json};

use super::keys::{KeyError, Pkcs11Key, Pkcs11Params, Signer};

/// What `diemcau sign` was told.
#[derive(Debug, Clone)]
pub struct SignArgs {
    /// The server's base URL (`https://host:port`).
    pub server: String,
    pub meeting: String,
    /// An API token of the signer (`diemcau` console: Tài khoản → token).
    pub api_token: String,
    pub token: Pkcs11Params,
    /// `secretary` or `chair`; by default the caller's role in the meeting.
    pub role: Option<String>,
    /// A CA (PEM) to trust for the server's HTTPS, e.g. its local CA.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the server at {0} could not be reached ({1})")]
    Unreachable(String, String),
    #[error("the server refused ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server's answer is not what the protocol says ({0})")]
    Protocol(String),
    #[error("{0}")]
    Setup(String),
}

/// The server's answer to `complete`: who has signed, who is still to.
pub type Status = Value;

fn client(ca_file: Option<&PathBuf>) -> Result<http_client::Client, ClientError> {
    let mut b = http_client::Client::builder().timeout(std::time::Duration::from_secs(60));
    if let Some(f) = ca_file {
        let pem =
            std::fs::read(f).map_err(|e| ClientError::Setup(format!("{}: {e}", f.display())))?;
        let cert = http_client::Certificate::from_pem(&pem)
            .map_err(|e| ClientError::Setup(format!("{}: {e}", f.display())))?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| ClientError::Setup(e.to_string()))
}

async fn post(
    http: &http_client::Client,
    args: &SignArgs,
    what: &str,
    body: Value,
) -> Result<Value, ClientError> {
    let url = format!(
        "{}/api/v1/meetings/{}/minutes/signatures/{what}",
        args.server.trim_end_matches('/'),
        args.meeting
    );
    let r = http
        .post(&url)
        .bearer_auth(&args.api_token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| ClientError::Unreachable(args.server.clone(), e.to_string()))?;
    let status = r.status().as_u16();
    let text = r
        .text()
        .await
        .map_err(|e| ClientError::Unreachable(args.server.clone(), e.to_string()))?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status != 200 {
        return Err(ClientError::Refused {
            status,
            code: v["error"]["code"].as_str().unwrap_or("?").to_string(),
            message: v["error"]["message"]
                .as_str()
                .map_or_else(|| text.chars().take(200).collect(), str::to_string),
        });
    }
    Ok(v)
}

/// Sign the meeting's final minutes with the token; the status after.
pub async fn run(args: &SignArgs) -> Result<Status, ClientError> {
    let params = args.token.clone();
    // Opening checks the PIN and that the certificate is the key's.
    let key = tokio::task::spawn_blocking(move || Pkcs11Key::open(&params))
        .await
        .map_err(|e| ClientError::Setup(e.to_string()))??;
    let key = std::sync::Arc::new(key);
    let b64 = base64::engine::general_purpose::STANDARD;
    let chain: Vec<String> = key
        .chain()
        .iter()
        .map(|c| c.to_der().map(|d| b64.encode(d)))
        .collect::<Result<_, _>>()
        .map_err(|e| ClientError::Setup(e.to_string()))?;
    let http = client(args.ca_file.as_ref())?;
    let mut body = json!({ "chain": chain });
    if let Some(r) = &args.role {
        body["role"] = json!(r);
    }
    let prepared = post(&http, args, "prepare", body).await?;
    let tbs = prepared["to_be_signed"]
        .as_str()
        .and_then(|s| b64.decode(s).ok())
        .ok_or_else(|| ClientError::Protocol("no to_be_signed".into()))?;
    let role = prepared["role"].as_str().unwrap_or("").to_string();
    let signer = key.clone();
    let signature = tokio::task::spawn_blocking(move || signer.sign(&tbs))
        .await
        .map_err(|e| ClientError::Setup(e.to_string()))??;
    let mut body = json!({ "signature": b64.encode(signature) });
    if !role.is_empty() {
        body["role"] = json!(role);
    }
    post(&http, args, "complete", body).await
}
