//! `diemcau` command line: parse, load config, run. Nothing else lives here.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use diemcau::config::Config;

const DEFAULT_CONFIG: &str = "configs/diemcau.toml";

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
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Walk the hash chain; print OK and the record count, or the first
    /// broken link (exit code 1).
    Verify,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // A missing default config is fine (all keys have defaults); a missing
    // file the user named is an error.
    let path = if cli.config.exists() {
        Some(cli.config.as_path())
    } else if cli.config == std::path::Path::new(DEFAULT_CONFIG) {
        None
    } else {
        anyhow::bail!("config file {} does not exist", cli.config.display());
    };
    let mut config = Config::load(path, std::env::vars())?;
    if let Cmd::Demo { token } = &cli.command {
        if let Some(t) = token {
            config.demo.token = Some(t.clone());
        }
        if config.demo.token.is_none() {
            config.demo.token = Some("demo".into());
        }
        config.validate()?;
    }
    if let Cmd::Audit {
        command: AuditCmd::Verify,
    } = &cli.command
    {
        return audit_verify(&config);
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
    rt.block_on(async move {
        let server = diemcau::Server::start(config.clone()).await?;
        print_banner(&server, &config);
        tokio::signal::ctrl_c().await.context("wait for ctrl-c")?;
        tracing::info!("shutting down");
        server.shutdown().await;
        Ok(())
    })
}

/// `diemcau audit verify`: exit 0 when the chain holds, 1 at the first broken link.
fn audit_verify(config: &Config) -> anyhow::Result<()> {
    use diemcau::store::{Store, audit};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let outcome = rt.block_on(async {
        let store = Store::open(&config.database_url())
            .await
            .context("open the database")?;
        let outcome = audit::verify(&store).await.context("read the audit log");
        store.close().await;
        outcome
    })?;
    match outcome {
        audit::Verification::Intact { records } => {
            println!("OK: audit log intact, {records} records");
            Ok(())
        }
        audit::Verification::Broken(link) => {
            println!("BROKEN: {link}");
            std::process::exit(1);
        }
    }
}

fn print_banner(server: &diemcau::Server, config: &Config) {
    let media: Vec<String> = server.media_addrs().iter().map(|a| a.to_string()).collect();
    println!(
        "diemcau {} — media UDP on {}",
        env!("CARGO_PKG_VERSION"),
        media.join(", ")
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
