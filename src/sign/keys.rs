//! The keys signatures are made with: the organisation's seal from
//! `[signatures]` (a PKCS#11 token or HSM, or a PKCS#8 key file), and a
//! person's token for `diemcau sign` — the same [`Pkcs11Key`].
//!
//! A key is checked when it is opened: the PIN is tried, and a probe
//! message signed with the key must verify with the certificate, so a
//! token whose certificate belongs to another key is refused at once, not
//! at the first finalised minutes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use super::cms_build::{self, KeyAlg};
use crate::config::SignaturesConfig;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the PIN was refused by the token {0:?}")]
    WrongPin(String),
    #[error(
        "the PIN was refused by the token {0:?} earlier; it is not tried again (the token locks after a few wrong PINs): fix the PIN and restart the server"
    )]
    PinHeldBack(String),
    #[error("no token {0} is present")]
    NoToken(String),
    #[error("no private key labelled {0:?} on the token")]
    NoKey(String),
    #[error("no certificate for the key: set cert_file, or put it on the token with the key's id")]
    NoCertificate,
    #[error("the certificate {0:?} does not belong to the key (a probe signature does not verify)")]
    Mismatch(String),
    #[error("no PIN: set pin_file or pin_env")]
    NoPin,
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("PKCS#11 module {module}: {message}")]
    Module { module: PathBuf, message: String },
    #[error("the token failed to sign ({0})")]
    Token(String),
    #[error(transparent)]
    Cms(#[from] cms_build::CmsError),
}

/// A key that can sign, with the certificate chain that goes with it.
pub trait Signer: Send + Sync {
    /// Leaf first.
    fn chain(&self) -> &[Certificate];
    /// A signature over `message` (SHA-256; ECDSA as DER), as CMS wants it.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;
}

fn file_err(path: &Path, message: impl ToString) -> KeyError {
    KeyError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Sign a probe and check it with the leaf certificate.
fn check_pair(key: &dyn Signer) -> Result<(), KeyError> {
    let leaf = key.chain().first().ok_or(KeyError::NoCertificate)?;
    let probe = b"diemcau: the key matches its certificate";
    let sig = key.sign(probe)?;
    cms_build::verify(leaf, probe, &sig)
        .map_err(|_| KeyError::Mismatch(leaf.tbs_certificate().subject().to_string()))
}

/// The PIN from `pin_file` (trailing newline ignored) or `pin_env`.
pub fn read_pin(pin_file: Option<&Path>, pin_env: Option<&str>) -> Result<String, KeyError> {
    if let Some(p) = pin_file {
        let s = std::fs::read_to_string(p).map_err(|e| file_err(p, e))?;
        return Ok(s.trim_end_matches(['\r', '\n']).to_string());
    }
    if let Some(var) = pin_env {
        return std::env::var(var).map_err(|_| KeyError::NoPin);
    }
    Err(KeyError::NoPin)
}

fn read_chain(path: &Path) -> Result<Vec<Certificate>, KeyError> {
    let pem = std::fs::read(path).map_err(|e| file_err(path, e))?;
    cms_build::parse_pem_chain(&pem).map_err(|e| file_err(path, e))
}

/// The seal configured in `[signatures]`, opened and checked; `None` when
/// none is configured.
pub fn open_seal(cfg: &SignaturesConfig) -> Result<Option<Arc<dyn Signer>>, KeyError> {
    if let Some(module) = &cfg.pkcs11_module {
        let pin = read_pin(cfg.pin_file.as_deref(), cfg.pin_env.as_deref())?;
        let key = Pkcs11Key::open(&Pkcs11Params {
            module: module.clone(),
            token: cfg.pkcs11_token.clone(),
            slot: cfg.pkcs11_slot,
            key_label: cfg.pkcs11_key_label.clone().unwrap_or_default(),
            pin,
            cert_file: cfg.cert_file.clone(),
        })?;
        return Ok(Some(Arc::new(key)));
    }
    if let Some(key_file) = &cfg.key_file {
        let cert_file = cfg.cert_file.as_deref().ok_or(KeyError::NoCertificate)?;
        let key = FileKey::open(key_file, cert_file)?;
        return Ok(Some(Arc::new(key)));
    }
    Ok(None)
}

enum FilePair {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ecdsa(aws_lc_rs::signature::EcdsaKeyPair),
}

/// A PKCS#8 PEM key and its PEM certificate chain.
pub struct FileKey {
    pair: FilePair,
    chain: Vec<Certificate>,
}

impl FileKey {
    pub fn open(key_file: &Path, cert_file: &Path) -> Result<FileKey, KeyError> {
        let chain = read_chain(cert_file)?;
        let raw = std::fs::read(key_file).map_err(|e| file_err(key_file, e))?;
        // PKCS#12 is binary DER (a SEQUENCE): say what to do with it.
        if raw.first() == Some(&0x30) {
            return Err(file_err(
                key_file,
                "a binary (PKCS#12 or DER) key; convert it once to PKCS#8 PEM: \
                 openssl pkcs12 -nocerts -nodes | openssl pkcs8 -topk8 -nocrypt",
            ));
        }
        let pem = String::from_utf8(raw).map_err(|_| file_err(key_file, "not a PEM key"))?;
        let (label, der) = der::pem::decode_vec(pem.as_bytes())
            .map_err(|e| file_err(key_file, format!("not a PEM key ({e})")))?;
        if label != "PRIVATE KEY" {
            return Err(file_err(
                key_file,
                format!("a {label:?} PEM; convert it to PKCS#8 (\"PRIVATE KEY\")"),
            ));
        }
        let pair = match KeyAlg::of(&chain[0])? {
            KeyAlg::Rsa => FilePair::Rsa(
                aws_lc_rs::rsa::KeyPair::from_pkcs8(&der)
                    .map_err(|e| file_err(key_file, format!("not an RSA PKCS#8 key ({e})")))?,
            ),
            KeyAlg::EcdsaP256 => FilePair::Ecdsa(
                aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &der,
                )
                .map_err(|e| file_err(key_file, format!("not a P-256 PKCS#8 key ({e})")))?,
            ),
        };
        let key = FileKey { pair, chain };
        check_pair(&key)?;
        Ok(key)
    }
}

impl Signer for FileKey {
    fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.pair {
            FilePair::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    message,
                    &mut sig,
                )
                .map_err(|e| KeyError::Token(e.to_string()))?;
                Ok(sig)
            }
            FilePair::Ecdsa(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| KeyError::Token(e.to_string())),
        }
    }
}

/// Where a PKCS#11 key is.
#[derive(Debug, Clone)]
pub struct Pkcs11Params {
    pub module: PathBuf,
    /// The token's label; else `slot`; else the only token present.
    pub token: Option<String>,
    pub slot: Option<u64>,
    pub key_label: String,
    pub pin: String,
    /// The chain as PEM, when the token does not hold the certificate.
    pub cert_file: Option<PathBuf>,
}

/// A private key on a PKCS#11 token. Each signature opens a session and
/// logs in (a token removed and put back keeps working); one at a time.
pub struct Pkcs11Key {
    ctx: Pkcs11,
    slot: Slot,
    token: String,
    key_label: String,
    pin: String,
    alg: KeyAlg,
    chain: Vec<Certificate>,
    busy: Mutex<()>,
}

fn p11(module: &Path) -> impl Fn(P11Error) -> KeyError + '_ {
    move |e| KeyError::Module {
        module: module.to_path_buf(),
        message: e.to_string(),
    }
}

impl Pkcs11Key {
    pub fn open(p: &Pkcs11Params) -> Result<Pkcs11Key, KeyError> {
        let ctx = Pkcs11::new(&p.module).map_err(p11(&p.module))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(p11(&p.module)(e)),
        }
        let slots = ctx.get_slots_with_token().map_err(p11(&p.module))?;
        let mut found = None;
        for s in slots {
            let label = ctx
                .get_token_info(s)
                .map(|i| i.label().trim().to_string())
                .unwrap_or_default();
            let matches = match (&p.token, p.slot) {
                (Some(t), _) => label == t.trim(),
                (None, Some(id)) => s.id() == id,
                (None, None) => true,
            };
            if matches {
                found = Some((s, label));
                break;
            }
        }
        let wanted = match (&p.token, p.slot) {
            (Some(t), _) => format!("labelled {t:?}"),
            (None, Some(id)) => format!("in slot {id}"),
            (None, None) => "at all".into(),
        };
        let (slot, token) = found.ok_or(KeyError::NoToken(wanted))?;
        let mut key = Pkcs11Key {
            ctx,
            slot,
            token,
            key_label: p.key_label.clone(),
            pin: p.pin.clone(),
            alg: KeyAlg::Rsa,
            chain: Vec::new(),
            busy: Mutex::new(()),
        };
        let session = key.session()?;
        let handle = key.private_key(&session)?;
        key.chain = match &p.cert_file {
            Some(f) => read_chain(f)?,
            None => vec![key.token_certificate(&session, handle)?],
        };
        drop(session);
        key.alg = KeyAlg::of(&key.chain[0])?;
        check_pair(&key)?;
        Ok(key)
    }

    fn session(&self) -> Result<Session, KeyError> {
        let session = self
            .ctx
            .open_ro_session(self.slot)
            .map_err(|e| KeyError::Token(e.to_string()))?;
        let pin = AuthPin::from(self.pin.clone());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(P11Error::Pkcs11(
                RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid,
                _,
            )) => Err(KeyError::WrongPin(self.token.clone())),
            Err(P11Error::Pkcs11(RvError::PinLocked, _)) => Err(KeyError::Token(format!(
                "the PIN of token {:?} is locked",
                self.token
            ))),
            Err(e) => Err(KeyError::Token(e.to_string())),
        }
    }

    fn private_key(&self, session: &Session) -> Result<ObjectHandle, KeyError> {
        let found = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(self.key_label.as_bytes().to_vec()),
            ])
            .map_err(|e| KeyError::Token(e.to_string()))?;
        found
            .first()
            .copied()
            .ok_or_else(|| KeyError::NoKey(self.key_label.clone()))
    }

    /// The certificate stored beside the key: same CKA_ID, else same label.
    fn token_certificate(
        &self,
        session: &Session,
        key: ObjectHandle,
    ) -> Result<Certificate, KeyError> {
        let id = session
            .get_attributes(key, &[AttributeType::Id])
            .ok()
            .and_then(|a| {
                a.into_iter().find_map(|x| match x {
                    Attribute::Id(id) if !id.is_empty() => Some(id),
                    _ => None,
                })
            });
        let mut templates = Vec::new();
        if let Some(id) = id {
            templates.push(vec![
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::Id(id),
            ]);
        }
        templates.push(vec![
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label(self.key_label.as_bytes().to_vec()),
        ]);
        for t in templates {
            let Ok(found) = session.find_objects(&t) else {
                continue;
            };
            for h in found {
                let value = session
                    .get_attributes(h, &[AttributeType::Value])
                    .ok()
                    .and_then(|a| {
                        a.into_iter().find_map(|x| match x {
                            Attribute::Value(v) => Some(v),
                            _ => None,
                        })
                    });
                if let Some(der) = value
                    && let Ok(c) = cms_build::parse_chain(&[der])
                {
                    return c.into_iter().next().ok_or(KeyError::NoCertificate);
                }
            }
        }
        Err(KeyError::NoCertificate)
    }
}

impl Signer for Pkcs11Key {
    fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let _one = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let session = self.session()?;
        let key = self.private_key(&session)?;
        let failed = |e: P11Error| KeyError::Token(e.to_string());
        match self.alg {
            KeyAlg::Rsa => session
                .sign(&Mechanism::Sha256RsaPkcs, key, message)
                .map_err(failed),
            KeyAlg::EcdsaP256 => {
                // CKM_ECDSA signs a digest and answers r ‖ s.
                let digest = Sha256::digest(message);
                let raw = session
                    .sign(&Mechanism::Ecdsa, key, &digest)
                    .map_err(failed)?;
                Ok(cms_build::ecdsa_der(&raw)?)
            }
        }
    }
}

/// The organisation's seal as the server holds it: opened at first use
/// (on the blocking pool: a token answers slowly) and kept; a failure to
/// open is answered to that caller and tried again at the next.
pub struct Seal {
    config: SignaturesConfig,
    key: tokio::sync::Mutex<Option<Arc<dyn Signer>>>,
    /// A PIN the token refused: not offered again until the server
    /// restarts (with the PIN fixed), as each try spends one of the few
    /// the token allows before it locks itself.
    refused_pin: Mutex<Option<String>>,
}

impl Seal {
    pub fn new(config: SignaturesConfig) -> Seal {
        Seal {
            config,
            key: tokio::sync::Mutex::new(None),
            refused_pin: Mutex::new(None),
        }
    }

    /// Whether a seal is configured at all.
    pub fn configured(&self) -> bool {
        self.config.has_seal()
    }

    /// The timestamp server for PAdES B-T (seal and personal signatures).
    pub fn tsa_url(&self) -> Option<&str> {
        self.config.tsa_url.as_deref()
    }

    /// The key, opened if needed; `None` when none is configured.
    pub async fn key(&self) -> Result<Option<Arc<dyn Signer>>, KeyError> {
        if !self.configured() {
            return Ok(None);
        }
        let mut held = self.key.lock().await;
        if let Some(k) = held.as_ref() {
            return Ok(Some(k.clone()));
        }
        if let Some(token) = self
            .refused_pin
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(KeyError::PinHeldBack(token));
        }
        let config = self.config.clone();
        let opened = tokio::task::spawn_blocking(move || open_seal(&config))
            .await
            .map_err(|e| KeyError::Token(e.to_string()))?;
        let opened = match opened {
            Err(KeyError::WrongPin(token)) => {
                *self.refused_pin.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
                return Err(KeyError::WrongPin(token));
            }
            other => other?,
        };
        *held = opened.clone();
        Ok(opened)
    }
}

/// The signer's common name (else the whole subject), organisation and
/// serial (upper-case hex) of a certificate.
pub fn describe(cert: &Certificate) -> (String, Option<String>, String) {
    let tbs = cert.tbs_certificate();
    let subject = tbs.subject();
    let cn = subject
        .common_name()
        .ok()
        .flatten()
        .map(String::from)
        .unwrap_or_else(|| subject.to_string());
    let org = subject.organization().ok().flatten().map(String::from);
    (cn, org, hex::encode_upper(tbs.serial_number().as_bytes()))
}

/// A chain as PEM, leaf first.
pub fn chain_pem(chain: &[Certificate]) -> String {
    use der::EncodePem;
    chain
        .iter()
        .filter_map(|c| c.to_pem(der::pem::LineEnding::LF).ok())
        .collect()
}
