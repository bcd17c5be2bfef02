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

/// The crates below the server (issue 20's sans-IO line).
const SANS_IO_CRATES: [&str; 3] = ["diemcau-media", "diemcau-record", "diemcau-live"];

/// Every package `root` links, following normal (not dev or build)
/// dependencies through `cargo metadata`'s resolved graph.
fn linked_packages(metadata: &serde_json::Value, root: &str) -> std::collections::BTreeSet<String> {
    let name_of = |id: &str| -> String {
        metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["name"].as_str().unwrap().to_string())
            .unwrap()
    };
    let nodes = metadata["resolve"]["nodes"].as_array().unwrap();
    let root_id = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == root)
        .map(|p| p["id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{root} is not a workspace package"));
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![root_id];
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id.as_str()).unwrap();
        for dep in node["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                todo.push(dep["pkg"].as_str().unwrap().to_string());
            }
        }
    }
    seen.iter().map(|id| name_of(id)).collect()
}

#[test]
fn sans_io_crates_link_no_runtime_server_or_database() {
    let metadata = workspace_metadata();
    // The server's own stack: an async runtime, HTTP, a database.
    let forbidden = ["tokio", "axum", "hyper", "mio", "sqlx", "diemcau"];
    for krate in SANS_IO_CRATES {
        let linked = linked_packages(&metadata, krate);
        let bad: Vec<&str> = forbidden
            .iter()
            .copied()
            .filter(|f| linked.contains(*f))
            .collect();
        assert!(
            bad.is_empty(),
            "{krate} links {bad:?}; it must stay sans-IO"
        );
    }
    // And the check can fail: the server itself links all of them.
    let server = linked_packages(&metadata, "diemcau");
    assert!(server.contains("tokio") && server.contains("sqlx"));
}

#[test]
fn sans_io_crates_take_no_clock_thread_file_or_socket() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // What a dependency graph cannot show: the standard library's I/O and
    // clock. Time comes in as `now`, datagrams as bytes.
    let forbidden = [
        "std::net",
        "UdpSocket",
        "TcpStream",
        "TcpListener",
        "Instant::now",
        "SystemTime::now",
        "std::fs",
        "std::thread",
    ];
    let mut violations = vec![];
    let files = SANS_IO_CRATES
        .iter()
        .flat_map(|k| rust_files(&root.join("crates").join(&k["diemcau-".len()..]).join("src")));
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
        "crates/media, crates/record and crates/live must stay sans-IO:\n{}",
        violations.join("\n")
    );
}

/// `cargo metadata --frozen` of the workspace: packages and resolved graph.
fn workspace_metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--frozen",
            "--manifest-path",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn webrtc_rs_stays_out_of_the_server() {
    // The test client (diemcau-testkit's `rtc-client`) is a dev-dependency:
    // nothing the server links reaches webrtc-rs.
    let linked = linked_packages(&workspace_metadata(), "diemcau");
    assert!(
        !linked.contains("webrtc") && !linked.contains("diemcau-testkit"),
        "webrtc-rs is a test client only, never a server dependency"
    );
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for f in rust_files(&src) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains("webrtc::"), "{} uses webrtc-rs", f.display());
    }
}

/// The engine's tests take the test kit for its virtual-time world only:
/// its WebRTC client and the runtime under it are an optional feature
/// (`rtc-client`) that diemcau-media does not ask for, so `cargo test -p
/// diemcau-media` builds no tokio or webrtc-rs. (`cargo metadata` resolves
/// features for the whole workspace, where the server's tests turn the
/// client on; hence the manifests are read, not the graph.)
#[test]
fn the_engine_tests_take_the_test_kit_without_its_webrtc_client() {
    let metadata = workspace_metadata();
    let package = |name: &str| {
        metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not a workspace package"))
            .clone()
    };
    let testkit = package("diemcau-testkit");
    let heavy = ["tokio", "webrtc", "rtc", "reqwest", "tokio-tungstenite"];
    for dep in testkit["dependencies"].as_array().unwrap() {
        let name = dep["name"].as_str().unwrap();
        if heavy.contains(&name) {
            assert_eq!(
                dep["optional"], true,
                "diemcau-testkit's {name} must stay behind its rtc-client feature"
            );
        }
    }
    let media = package("diemcau-media");
    let kit = media["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "diemcau-testkit")
        .expect("diemcau-media's engine tests use the test kit");
    assert_eq!(kit["kind"], "dev");
    assert_eq!(
        kit["features"].as_array().map(Vec::len),
        Some(0),
        "diemcau-media must take the test kit without its WebRTC client"
    );
    assert_eq!(kit["uses_default_features"], true);
    assert!(
        testkit["features"]["default"]
            .as_array()
            .is_none_or(|d| d.is_empty()),
        "the test kit's default features must stay empty"
    );
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

/// The configuration is read before anything starts and by tools
/// (`diemcau check`): it names nothing of the server but itself (the
/// sections other modules own are kept under `config/` and re-exported by
/// them), so reading a config never needs the rest built.
#[test]
fn the_configuration_depends_on_nothing_else_of_the_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut violations = vec![];
    for f in rust_files(&root.join("src/config")) {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let outside = code
                .match_indices("crate::")
                .any(|(at, _)| !code[at..].starts_with("crate::config"));
            if outside {
                violations.push(format!("{}:{}: {}", f.display(), i + 1, code.trim()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "src/config reaches into the server:\n{}",
        violations.join("\n")
    );
}
