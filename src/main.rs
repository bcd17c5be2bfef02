//! `diemcau` command line: parse, load config, run. Nothing else lives here.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use diemcau::config::Config;

const DEFAULT_CONFIG: &str = "configs/diemcau.toml";
/// Where the Debian package installs the config: used when there is no
/// `configs/diemcau.toml` here and `--config` was not given, so an
/// installer's `diemcau check` or `diemcau backup` reads the server's own.
const INSTALLED_CONFIG: &str = "/etc/diemcau/diemcau.toml";
/// Where `admin create` takes the password from, before prompting.
const ADMIN_PASSWORD_ENV: &str = "DIEMCAU_ADMIN_PASSWORD";

#[derive(Parser)]
#[command(
    name = "diemcau",
    version,
    about = "Cầu truyền hình hội nghị trực tuyến — videoconference bridge"
)]
struct Cli {
    /// Config file (TOML). Every key can also be set as DIEMCAU_SECTION__KEY.
    #[arg(long, short, global = true, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve,
    /// Run the server with a seeded demo meeting `demo`.
    Demo {
        /// Bearer token for the demo meeting (rooms, WHIP, WHEP).
        #[arg(long, env = "DIEMCAU_DEMO__TOKEN")]
        token: Option<String>,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCmd,
    },
    /// People tools.
    Admin {
        #[command(subcommand)]
        command: AdminCmd,
    },
    /// Check that this machine is ready to run the configured server
    /// (config, files, ports, data directory and disk, certificates'
    /// expiry, database and its schema, clock); exits 1 naming every
    /// problem found. Changes nothing.
    Check,
    /// Back up the database, documents, recordings and the keys the server
    /// needs into a folder (a new or empty one, or a new dated folder
    /// inside an existing one), with a manifest of SHA-256 hashes. Runs
    /// beside a running server.
    Backup {
        /// Where to write the backup.
        dest: PathBuf,
    },
    /// Restore a backup folder onto a fresh data directory (and, on
    /// PostgreSQL, an empty database). Refuses, changing nothing, a backup
    /// whose files do not match its manifest or that comes from a newer
    /// schema.
    Restore {
        /// The backup folder (the one holding manifest.json).
        backup: PathBuf,
        /// Replace what a non-empty data directory or database holds.
        #[arg(long)]
        force: bool,
    },
    /// Sign a meeting's final minutes with your own certificate on a USB
    /// token (PKCS#11), as its secretary or chair. The PIN comes from
    /// DIEMCAU_SIGN_PIN, else a prompt on the terminal (not echoed).
    Sign(SignCmd),
}

#[derive(clap::Args)]
struct SignCmd {
    /// The server, e.g. https://hoinghi.tinhuy.vn:8443
    #[arg(long, env = "DIEMCAU_SIGN_SERVER")]
    server: String,
    /// Your API token (console: account → API tokens).
    #[arg(
        long = "api-token",
        env = "DIEMCAU_SIGN_API_TOKEN",
        hide_env_values = true
    )]
    api_token: String,
    /// The meeting whose final minutes you sign.
    #[arg(long)]
    meeting: String,
    /// The token's PKCS#11 module (from its vendor; SoftHSM2:
    /// /usr/lib/softhsm/libsofthsm2.so).
    #[arg(long)]
    module: PathBuf,
    /// The token's label (else --slot, else the only token present).
    #[arg(long)]
    token: Option<String>,
    #[arg(long)]
    slot: Option<u64>,
    /// The label of your private key on the token.
    #[arg(long = "key-label")]
    key_label: String,
    /// Your certificate chain (PEM, leaf first) if the token does not hold it.
    #[arg(long = "cert-file")]
    cert_file: Option<PathBuf>,
    /// secretary or chair (default: your role in the meeting).
    #[arg(long)]
    role: Option<String>,
    /// A CA certificate (PEM) to trust for the server's HTTPS.
    #[arg(long = "ca-file")]
    ca_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Create a user with the admin role. The password comes from
    /// DIEMCAU_ADMIN_PASSWORD, else a prompt on the terminal (not echoed),
    /// else one line of standard input. There is never a default password.
    Create {
        /// Login name (a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        name: String,
        /// Name shown in the console and the audit log; defaults to the login name.
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Walk the chain with the audit key (audit.key_file) and check every
    /// anchor in the anchor file (audit.anchor_file) against it; print OK
    /// and the record count, or the first broken record (exit code 1).
    /// A sealed log without its key file, or an unreadable anchor file,
    /// exits with 2.
    Verify,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Run on the signer's PC: no server config there.
    if let Cmd::Sign(args) = &cli.command {
        return sign(args);
    }
    // A missing default config is fine (all keys have defaults; the
    // package's /etc file stands in for it when installed); a missing file
    // the user named is an error.
    let installed = std::path::Path::new(INSTALLED_CONFIG);
    let path = if cli.config.exists() {
        Some(cli.config.as_path())
    } else if cli.config == std::path::Path::new(DEFAULT_CONFIG) {
        installed.exists().then_some(installed)
    } else {
        anyhow::bail!("config file {} does not exist", cli.config.display());
    };
    // The admin password is read by `admin create`, not a config key.
    let env = std::env::vars().filter(|(k, _)| k != ADMIN_PASSWORD_ENV);
    if let Cmd::Check = &cli.command {
        // Reads the config itself, to name every problem in it.
        return check(path, env.collect());
    }
    let mut config = Config::load(path, env)?;
    match &cli.command {
        Cmd::Backup { dest } => return backup(&config, dest),
        Cmd::Restore { backup, force } => return restore(&config, backup, *force),
        _ => {}
    }
    if let Cmd::Demo { token } = &cli.command {
        if let Some(t) = token {
            config.demo.token = Some(t.clone());
        }
        if config.demo.token.is_none() {
            config.demo.token = Some("demo".into());
        }
        // Room codecs and softphones can dial the demo meeting.
        if !config.sip.enabled() {
            config.sip.udp_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 5060)));
            config.sip.tls_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 5061)));
        }
        // The demo's CA and seal, so finalised minutes come out signed.
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("create {}", config.data_dir.display()))?;
        diemcau::demo_signing::prepare(&config.data_dir, &mut config.signatures)
            .context("prepare the demo's signing certificates")?;
        config.validate()?;
    }
    if let Cmd::Audit {
        command: AuditCmd::Verify,
    } = &cli.command
    {
        // Exit 2 (not 1, which means a broken chain) when it cannot be checked.
        return audit_verify(&config).or_else(|e| {
            eprintln!("cannot verify: {e:#}");
            std::process::exit(2)
        });
    }
    if let Cmd::Admin {
        command: AdminCmd::Create { name, display_name },
    } = &cli.command
    {
        return admin_create(&config, name, display_name.as_deref());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.filter)),
        )
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let demo = matches!(cli.command, Cmd::Demo { .. });
    rt.block_on(async move {
        let server = diemcau::Server::start(config.clone()).await?;
        print_banner(&server, &config);
        if demo {
            let mut province = diemcau::demo::seed(&server.state().store)
                .await
                .context("seed the demo province")?;
            if config.sip.enabled() {
                diemcau::demo::seed_sip(&server.state().store, &mut province, &config.sip.realm)
                    .await
                    .context("issue the demo rooms' SIP passwords")?;
            }
            // The paperless side: agenda, a sealed programme, a motion. A
            // failure here leaves the demo running without them.
            if let Err(e) = diemcau::demo_content::seed(server.state(), &province.meeting_id).await {
                tracing::warn!(error = %format!("{e:#}"), "the demo meeting's agenda and documents were not seeded");
            }
            if let Err(e) =
                diemcau::demo_content::start_stream(server.state(), &province.meeting_id).await
            {
                tracing::warn!(error = %format!("{e:#}"), "the demo meeting's live stream did not start");
            }
            print_demo_province(&server, &province);
        }
        tokio::signal::ctrl_c().await.context("wait for ctrl-c")?;
        tracing::info!("shutting down");
        server.shutdown().await;
        Ok(())
    })
}

/// `diemcau audit verify`: exit 0 when the chain and its anchors hold, 1
/// at the first broken record, 2 when it cannot be checked.
fn audit_verify(config: &Config) -> anyhow::Result<()> {
    use diemcau::store::{Store, audit};
    let key_path = config.audit_key_path();
    let anchor_path = config.audit_anchor_path();
    let key = audit::AuditKey::load(&key_path)?;
    let anchors = audit::read_anchors(&anchor_path)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let outcome = rt.block_on(async {
        let store = Store::open(&config.database_url())
            .await
            .context("open the database")?;
        let outcome = audit::verify_with(&store, key.as_ref(), &anchors)
            .await
            .context("read the audit log");
        store.close().await;
        outcome
    })?;
    match outcome {
        audit::Verification::Intact { records } => {
            let mut line = format!("OK: audit log intact, {records} records");
            if key.is_some() {
                line.push_str(&format!(
                    "; links checked with the key {}",
                    key_path.display()
                ));
            }
            if !anchors.is_empty() {
                line.push_str(&format!(
                    "; {} anchors in {} match",
                    anchors.len(),
                    anchor_path.display()
                ));
            }
            println!("{line}");
            Ok(())
        }
        audit::Verification::Broken(link) => {
            println!("BROKEN: {link}");
            std::process::exit(1);
        }
        audit::Verification::KeyNeeded { keyed_from } => {
            eprintln!(
                "cannot verify: the audit log is sealed from record {keyed_from} and there is no key file at {}; \
                 set audit.key_file to the server's key",
                key_path.display()
            );
            std::process::exit(2);
        }
    }
}

fn current_thread_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// `diemcau check`: every check printed; exit 1 when any failed.
fn check(path: Option<&std::path::Path>, env: Vec<(String, String)>) -> anyhow::Result<()> {
    let report = current_thread_runtime()?.block_on(diemcau::ops::check::run(path, env));
    report.print(&mut std::io::stdout().lock())?;
    if !report.problems().is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// `diemcau backup <dest>`.
fn backup(config: &Config, dest: &std::path::Path) -> anyhow::Result<()> {
    let done = current_thread_runtime()?.block_on(diemcau::ops::backup::backup(config, dest))?;
    for s in &done.skipped {
        eprintln!("  bỏ qua / skipped (not a regular file): {}", s.display());
    }
    println!(
        "Đã sao lưu / backed up: {} ({} files, {:.1} MiB, schema {}, {})",
        done.dir.display(),
        done.manifest.files.len(),
        done.bytes() as f64 / (1024.0 * 1024.0),
        done.manifest.schema_version,
        done.manifest.backend
    );
    if let Some(note) = &done.manifest.objects.note {
        println!("  Lưu ý / note: {note}");
    }
    Ok(())
}

/// `diemcau restore <backup> [--force]`: exit 1 when refused or failed.
fn restore(config: &Config, from: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let done =
        current_thread_runtime()?.block_on(diemcau::ops::restore::restore(config, from, force));
    match done {
        Ok(done) => {
            println!(
                "Đã khôi phục / restored: {} files from {} (made {} by diemcau {}, schema {}) into {}",
                done.files,
                from.display(),
                done.manifest.created_at,
                done.manifest.diemcau_version,
                done.manifest.schema_version,
                config.data_dir.display()
            );
            if let Some(note) = &done.manifest.objects.note {
                println!("  Lưu ý / note: {note}");
            }
            println!("  Kiểm tra / verify: diemcau audit verify");
            Ok(())
        }
        Err(e) => {
            eprintln!("Không khôi phục / not restored: {e}");
            std::process::exit(1);
        }
    }
}

/// `diemcau admin create`: the first admin (or another), audited as the
/// command line.
fn admin_create(config: &Config, name: &str, display_name: Option<&str>) -> anyhow::Result<()> {
    use diemcau::control::people::{MIN_PASSWORD_CHARS, People, Role, UserDetails};
    use diemcau::store::{Actor, Store};
    let password = match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(p) => p,
        Err(_) => read_password(&format!("Password for {name}: "))?,
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        anyhow::bail!("the password needs at least {MIN_PASSWORD_CHARS} characters");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    // On a fresh install this is the first thing to touch the data dir.
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("create data dir {}", config.data_dir.display()))?;
    let user = rt.block_on(async {
        let store = Store::open(&config.database_url())
            .await
            .context("open the database")?;
        // A log the server sealed needs its key for this record too; before
        // the first start there is none yet and the record stays plain.
        if let Some(key) = diemcau::store::audit::AuditKey::load(&config.audit_key_path())? {
            diemcau::store::audit::seal(&store, key, config.audit_anchor_path()).await?;
        }
        let details = UserDetails {
            display_name: display_name.unwrap_or(name).to_string(),
            roles: [Role::Admin].into(),
            scope_unit_id: None,
        };
        let user = People::new(store.clone())
            .create(&Actor::command_line(), name, details, &password)
            .await;
        store.close().await;
        anyhow::Ok(user?)
    })?;
    println!("created admin {} ({})", user.login, user.id);
    Ok(())
}

/// `diemcau sign`: prepare on the server, sign on the token, complete.
fn sign(a: &SignCmd) -> anyhow::Result<()> {
    use diemcau::sign::client::{SignArgs, run};
    use diemcau::sign::keys::Pkcs11Params;
    let pin = match std::env::var("DIEMCAU_SIGN_PIN") {
        Ok(p) => p,
        Err(_) => read_password("PIN of the token: ")?,
    };
    let args = SignArgs {
        server: a.server.clone(),
        meeting: a.meeting.clone(),
        api_token: a.api_token.clone(),
        token: Pkcs11Params {
            module: a.module.clone(),
            token: a.token.clone(),
            slot: a.slot,
            key_label: a.key_label.clone(),
            pin,
            cert_file: a.cert_file.clone(),
        },
        role: a.role.clone(),
        ca_file: a.ca_file.clone(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let status = rt.block_on(run(&args))?;
    let names = |key: &str, field: &str| -> Vec<String> {
        status[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        let role = s["role"].as_str().unwrap_or("?");
                        match s[field].as_str() {
                            Some(n) => format!("{role} ({n})"),
                            None => role.to_string(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    println!(
        "signed minutes version {} of meeting {}",
        status["version"], a.meeting
    );
    println!("  signed: {}", names("signed", "signer").join(", "));
    let pending = names("pending", "name");
    if !pending.is_empty() {
        println!("  still to sign: {}", pending.join(", "));
    }
    Ok(())
}

/// A password from the terminal with echo off, or one line of standard
/// input when there is no terminal (scripts should prefer the env variable).
fn read_password(prompt: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let line = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    {
        Ok(mut tty) => {
            tty.write_all(prompt.as_bytes())?;
            let fd = tty.as_raw_fd();
            // SAFETY: termios is plain data, filled by tcgetattr on an open fd.
            let mut saved: libc::termios = unsafe { std::mem::zeroed() };
            let echo_off = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
            if echo_off {
                let mut quiet = saved;
                quiet.c_lflag &= !libc::ECHO;
                quiet.c_lflag |= libc::ECHONL;
                // SAFETY: as above; restored below whatever the read returns.
                unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
            }
            let mut line = String::new();
            let read = std::io::BufReader::new(&tty).read_line(&mut line);
            if echo_off {
                // SAFETY: restores the settings read above on the same fd.
                unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
            }
            read.context("read the password from the terminal")?;
            line
        }
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("read the password from standard input")?;
            line
        }
    };
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The demo province's meeting and a room link per endpoint (its token was
/// just issued; the old one stopped working).
fn print_demo_province(server: &diemcau::Server, province: &diemcau::demo::DemoProvince) {
    let Some(base) = server
        .http_addr()
        .map(|a| format!("http://{a}"))
        .or_else(|| {
            server
                .https_addr()
                .map(|a| format!("https://localhost:{}", a.port()))
        })
    else {
        return;
    };
    println!(
        "Demo province meeting `{}` — {} (open now; API: {base}/api/v1/meetings/{}):",
        province.meeting_id, province.meeting_title, province.meeting_id
    );
    for r in &province.rooms {
        println!(
            "  {:<32} {base}/room/{}?token={}",
            r.name, province.meeting_id, r.token
        );
        if let (Some((user, password)), Some(number), Some(sip)) =
            (&r.sip, &province.sip_dial_in, server.sip_udp_addr())
        {
            println!("    SIP: sip:{number}@{sip} user={user} password={password}");
        }
    }
    if let (Some(number), Some(tls)) = (&province.sip_dial_in, server.sip_tls_addr()) {
        // The same rooms and passwords; keys for SRTP travel only over TLS.
        println!(
            "  SIP over TLS (SRTP with SDES keys): sip:{number}@{tls};transport=tls (codecs trust {base}/ca.pem)"
        );
    }
    println!(
        "  live stream (log in as an operator first): {base}/live/{}",
        province.meeting_id
    );
}

fn print_banner(server: &diemcau::Server, config: &Config) {
    let media: Vec<String> = server.media_addrs().iter().map(|a| a.to_string()).collect();
    let tcp: Vec<String> = server
        .media_tcp_addrs()
        .iter()
        .map(|a| a.to_string())
        .collect();
    println!(
        "diemcau {} — media UDP on {}{}",
        env!("CARGO_PKG_VERSION"),
        media.join(", "),
        if tcp.is_empty() {
            String::new()
        } else {
            format!(", ICE-TCP on {}", tcp.join(", "))
        }
    );
    let mut bases = Vec::new();
    if let Some(a) = server.https_addr() {
        if a.ip().is_unspecified() {
            // Listening everywhere: name the addresses rooms can reach (the
            // media candidates), this machine's own first.
            bases.push(format!("https://localhost:{}", a.port()));
            for m in server.media_addrs() {
                if !m.ip().is_loopback() {
                    bases.push(format!("https://{}:{}", m.ip(), a.port()));
                }
            }
        } else {
            bases.push(format!("https://{}:{}", a.ip(), a.port()));
        }
    }
    if let Some(a) = server.http_addr() {
        bases.push(format!("http://{a}"));
    }
    for b in &bases {
        println!("  web:  {b}/");
    }
    if let Some(a) = server.metrics_addr() {
        println!("  metrics (Prometheus): http://{a}/metrics");
    }
    if let Some(token) = &config.demo.token {
        println!("Demo meeting `{}` (token {token}):", diemcau::DEMO_MEETING);
        for b in &bases {
            println!(
                "  room: {b}/room/{}?token={token}&name=Phòng%20họp",
                diemcau::DEMO_MEETING
            );
        }
        if let Some(b) = bases.last() {
            println!(
                "  WHIP: {b}/whip/{}   (Authorization: Bearer {token})",
                diemcau::DEMO_MEETING
            );
            println!("  WHEP: {b}/whep/{}", diemcau::DEMO_MEETING);
        }
        if server.https_addr().is_some() {
            println!(
                "  Rooms on other machines: trust the local CA from /ca.pem, then use the https URL with this machine's address."
            );
        }
    }
}
