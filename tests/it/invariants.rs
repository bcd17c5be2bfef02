//! Architecture invariants, checked on the source text so that breaking one
//! fails the tests, not only a reviewer's eye.

use std::path::Path;

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// Code outside `#[cfg(test)]` modules (tests may use a clock as a base).
fn non_test_code(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn media_engine_and_recording_pipelines_are_sans_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let forbidden = [
        "tokio",
        "axum",
        "sqlx",
        "UdpSocket",
        "TcpStream",
        "TcpListener",
        "Instant::now",
        "SystemTime::now",
        "std::fs",
        "std::thread",
        "crate::net",
        "crate::signal",
        "crate::api",
    ];
    let mut violations = vec![];
    let files = rust_files(&root.join("src/media"))
        .into_iter()
        .chain(rust_files(&root.join("src/record")))
        // The relay bridge too: its driver (`relay/link`) does the I/O.
        .chain(std::iter::once(root.join("src/relay/bridge.rs")));
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in non_test_code(&text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    violations.push(format!("{}:{}: {word}", f.display(), i + 1));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "src/media, src/record and src/relay/bridge.rs must stay sans-IO:\n{}",
        violations.join("\n")
    );
}

#[test]
fn webrtc_rs_stays_out_of_the_server() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = manifest.split("[dev-dependencies]").next().unwrap();
    assert!(
        !deps.contains("\nwebrtc ="),
        "webrtc-rs is a test client only, never a server dependency"
    );
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for f in rust_files(&src) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains("webrtc::"), "{} uses webrtc-rs", f.display());
    }
}

/// The conference layer decides; the HTTP layer adapts. Neither it, nor
/// the domain, nor the signalling state may reach back into `api` (the old
/// api ↔ signal import circle), and nothing outside `conference` and
/// `signal::live` (which carries out the conference's effects) sends the
/// engine a live command (mute, stage, thumbnails pins).
#[test]
fn the_conference_layer_and_the_domain_do_not_depend_on_the_http_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut violations = vec![];
    for dir in ["src/conference", "src/signal", "src/control"] {
        for f in rust_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, line) in non_test_code(&text).lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains("crate::api") || code.contains("axum") {
                    violations.push(format!("{}:{}: {}", f.display(), i + 1, code.trim()));
                }
            }
        }
    }
    let live_commands = [
        "Command::Mute",
        "Command::SetStage",
        "Command::StageVoice",
        "Command::PinThumbs",
    ];
    for f in rust_files(&root.join("src")) {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().to_string();
        let allowed = rel.starts_with("src/conference/")
            || rel == "src/signal/live.rs"
            || rel.starts_with("src/media/")
            || rel.starts_with("src/net/")
            // The child side of a relay link pins its own relay's slots.
            || rel.starts_with("src/relay/")
            // A room's own self-mute from its page (not an operator's).
            || rel == "src/api/ws.rs";
        if allowed {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in non_test_code(&text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for c in live_commands {
                if code.contains(c) {
                    violations.push(format!("{rel}:{}: {c}", i + 1));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "the conference layer decides and carries out live actions; nothing around it:\n{}",
        violations.join("\n")
    );
}

/// The tiers of `.config/nextest.toml` (`cargo nextest run -P unit` …)
/// name the modules of this crate they run: a new module must be put in
/// one, or a developer running the tiers would never run it.
#[test]
fn every_integration_test_module_is_in_exactly_one_tier() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(root.join("tests/it/main.rs")).unwrap();
    let modules: Vec<&str> = main
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    assert!(modules.len() > 50, "{modules:?}");
    let config = std::fs::read_to_string(root.join(".config/nextest.toml")).unwrap();
    let tiers: Vec<(String, Vec<String>)> = config
        .split("[profile.")
        .skip(1)
        .filter_map(|section| {
            let name = section.split(']').next()?.to_string();
            let filter = section
                .lines()
                .find_map(|l| l.strip_prefix("default-filter = "))?;
            let list = filter.split("test(/^(").nth(1)?.split(")::/)").next()?;
            Some((name, list.split('|').map(str::to_string).collect()))
        })
        .collect();
    let names: Vec<&str> = tiers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["unit", "api", "media", "browser", "tools"]);
    for m in &modules {
        let in_tiers: Vec<&str> = tiers
            .iter()
            .filter(|(_, list)| list.iter().any(|x| x == m))
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(in_tiers.len(), 1, "module `{m}` is in tiers {in_tiers:?}");
    }
    for (tier, list) in &tiers {
        for x in list {
            assert!(
                modules.contains(&x.as_str()),
                "tier {tier} names `{x}`, no such module"
            );
        }
    }
}
