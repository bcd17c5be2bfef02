//! A small W3C WebDriver client driving Debian's Chromium through
//! `chromedriver`, for tests that load the real room page.
//!
//! [`ChromeDriver::start`] spawns `/usr/bin/chromedriver` on a free loopback
//! port (in its own process group) and kills it — with every Chromium it
//! launched — by PID when dropped, so a failing test leaves nothing behind.
//! Call `netns::enter_loopback_only()` before starting it: Chromium gathers
//! ICE candidates on every interface it can see.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Flags for every test browser: headless, fake camera and microphone
/// (granted without a prompt), no background traffic, loopback ICE
/// candidates allowed, audio that plays without a click, no QUIC.
pub const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-quic",
];

/// Viewport of test pages: a 720p wall screen, so screenshots show the
/// layout a conference room actually gets.
pub const VIEWPORT: (u32, u32) = (1280, 720);

/// How long chromedriver may take to answer `/status` after spawning.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Upper bound for one WebDriver command (a session start launches Chromium).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Async scripts (`diemcau.stats()`) resolve in milliseconds; a stuck one
/// should fail the poll, not hang the test.
const SCRIPT_TIMEOUT_MS: u64 = 15_000;

/// Directory for screenshots and logs of browser tests.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/browser");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts/browser");
    dir
}

/// Panics (never skips) when the browser packages are missing.
pub fn require_installed() {
    for (bin, pkg) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is not installed: browser tests need Debian's `{pkg}`. Run the CI setup \
             (`.ci/run`, or `apt-get install -y chromium chromium-driver`) and try again"
        );
    }
}

/// A running chromedriver; sessions are Chromium instances it launched.
pub struct ChromeDriver {
    child: Child,
    url: String,
    http: reqwest::Client,
    /// Profiles of the sessions; removed after the browsers are killed.
    profiles: Mutex<Vec<tempfile::TempDir>>,
}

impl ChromeDriver {
    pub async fn start() -> ChromeDriver {
        require_installed();
        let port = super::server::free_tcp_port();
        // One log per test (nextest runs each test in its own process, on a
        // thread named after the test), overwritten by the next run.
        let test = std::thread::current()
            .name()
            .filter(|n| *n != "main")
            .map(|n| n.replace("::", "-"))
            .unwrap_or_else(|| format!("pid{}", std::process::id()));
        let log = artifacts_dir().join(format!("chromedriver-{test}.log"));
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Own process group: Chromium inherits it, so Drop can end the
        // whole tree we started, and only it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {CHROMEDRIVER}: {e}"));
        let driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(COMMAND_TIMEOUT)
                .no_proxy()
                .build()
                .expect("http client"),
            profiles: Mutex::new(Vec::new()),
        };
        driver.wait_ready().await;
        driver
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
        loop {
            let status = self.http.get(format!("{}/status", self.url)).send().await;
            if let Ok(resp) = status
                && let Ok(v) = resp.json::<Value>().await
                && v["value"]["ready"] == json!(true)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready on {} within {DRIVER_READY_TIMEOUT:?}",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Launch a fresh Chromium (own `--user-data-dir`) with [`CHROMIUM_ARGS`]
    /// and a [`VIEWPORT`]-sized page.
    pub async fn new_session(&self) -> Session {
        let profile = tempfile::Builder::new()
            .prefix("diemcau-chromium-")
            .tempdir()
            .expect("profile tempdir");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        self.profiles.lock().unwrap().push(profile);
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "timeouts": { "script": SCRIPT_TIMEOUT_MS, "pageLoad": 30_000 },
                }
            }
        });
        let value = command(
            &self.http,
            "POST",
            &format!("{}/session", self.url),
            Some(caps),
        )
        .await
        .unwrap_or_else(|e| panic!("start a Chromium session: {e}"));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {value}"))
            .to_string();
        let session = Session {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.url),
        };
        session.set_viewport(VIEWPORT.0, VIEWPORT.1).await;
        session
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // Chromium's helpers may have left the group: end descendants first.
        for child in descendants(pid) {
            // SAFETY: kill(2) with a PID of a process this test started.
            unsafe { libc::kill(child, libc::SIGKILL) };
        }
        // SAFETY: the negative PID names the process group created above
        // for chromedriver; only processes it started are in it.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser (one Chromium process) driven through WebDriver.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    pub async fn navigate(&self, url: &str) {
        self.post("url", json!({ "url": url }))
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// Run `script` as a function body (`arguments` holds `args`) and return
    /// what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Run `script` as a function body whose last argument is the callback
    /// that ends it; returns the value passed to the callback.
    pub async fn execute_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("execute/async", json!({ "script": script, "args": args }))
            .await
    }

    /// Await a promise-returning JS expression, e.g. `window.diemcau.stats()`.
    /// A rejection comes back as `Err` with its message.
    pub async fn eval_promise(&self, expr: &str) -> Result<Value, String> {
        let script = format!(
            "const done = arguments[arguments.length - 1];\
             Promise.resolve().then(() => ({expr}))\
             .then(v => done({{ ok: v === undefined ? null : v }}), \
                   e => done({{ err: String(e && e.stack || e) }}));"
        );
        let v = self.execute_async(&script, json!([])).await?;
        match v.get("err") {
            Some(e) => Err(e.as_str().unwrap_or_default().to_string()),
            None => Ok(v.get("ok").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Save a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let value = self
            .get("screenshot")
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().expect("screenshot is base64"))
            .expect("screenshot base64 decodes");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Browser console lines logged since the last call (chromedriver's
    /// `se/log`); on failure, one line saying why.
    pub async fn console_log(&self) -> Vec<String> {
        match self.post("se/log", json!({ "type": "browser" })).await {
            Ok(Value::Array(entries)) => entries
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["level"].as_str().unwrap_or("?"),
                        e["message"].as_str().unwrap_or_default()
                    )
                })
                .collect(),
            Ok(other) => vec![format!("(unexpected console log reply: {other})")],
            Err(e) => vec![format!("(console log unavailable: {e})")],
        }
    }

    /// Make the page's viewport (not the window) `width`×`height`.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let rect = |w: i64, h: i64| json!({ "width": w, "height": h });
        let (w, h) = (i64::from(width), i64::from(height));
        self.post("window/rect", rect(w, h))
            .await
            .unwrap_or_else(|e| panic!("set window rect: {e}"));
        let inner = self
            .execute("return [window.innerWidth, window.innerHeight];", json!([]))
            .await
            .unwrap_or_else(|e| panic!("read viewport: {e}"));
        let (iw, ih) = (
            inner[0].as_i64().unwrap_or(w),
            inner[1].as_i64().unwrap_or(h),
        );
        if (iw, ih) != (w, h) {
            self.post("window/rect", rect(2 * w - iw, 2 * h - ih))
                .await
                .unwrap_or_else(|e| panic!("set window rect: {e}"));
        }
    }

    /// End the session; Chromium exits.
    pub async fn close(self) {
        let _ = command(&self.http, "DELETE", &self.base, None).await;
    }

    async fn post(&self, cmd: &str, body: Value) -> Result<Value, String> {
        command(
            &self.http,
            "POST",
            &format!("{}/{cmd}", self.base),
            Some(body),
        )
        .await
    }

    async fn get(&self, cmd: &str) -> Result<Value, String> {
        command(&self.http, "GET", &format!("{}/{cmd}", self.base), None).await
    }
}

/// One WebDriver command: returns the reply's `value`, or the W3C error.
async fn command(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let req = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        _ => http.post(url).json(&body.unwrap_or_else(|| json!({}))),
    };
    let resp = req
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("{method} {url}: reading reply: {e}"))?;
    let mut reply: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{method} {url}: {status}, not JSON ({e}): {text}"))?;
    let value = reply["value"].take();
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!(
            "{method} {url}: {status} {}: {}",
            value["error"].as_str().unwrap_or("?"),
            value["message"].as_str().unwrap_or(&text)
        ))
    }
}

/// PIDs of every live descendant of `root` (read from /proc).
fn descendants(root: libc::pid_t) -> Vec<libc::pid_t> {
    let mut parent_of: Vec<(libc::pid_t, libc::pid_t)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Field 4 (ppid) follows the parenthesised command name.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// A page driven step by step by a browser test: scripts polled until they
/// hold, screenshots named `<prefix>-<name>.png` in [`artifacts_dir`], and
/// on failure the page's state, log and console in the message.
pub struct Steps<'a> {
    pub page: &'a Session,
    prefix: &'static str,
    poll: Duration,
}

impl<'a> Steps<'a> {
    pub fn new(page: &'a Session, prefix: &'static str, poll: Duration) -> Self {
        Steps { page, prefix, poll }
    }

    /// The page's `window.diemcau` state and log, and its console.
    pub async fn describe(&self) -> String {
        let state = self
            .page
            .execute(
                "return window.diemcau ? JSON.stringify({state: window.diemcau.state(), log: window.diemcau.log()}) : 'no window.diemcau';",
                json!([]),
            )
            .await
            .unwrap_or_else(Value::String);
        let console = self.page.console_log().await.join("\n    ");
        format!("page: {state}\n  console:\n    {console}")
    }

    pub async fn shot(&self, name: &str) {
        self.page
            .screenshot(&artifacts_dir().join(format!("{}-{name}.png", self.prefix)))
            .await;
    }

    /// Run `script` (a function body) until it returns something other
    /// than `null`/`false`; on timeout, screenshot `<step>-timeout` and panic.
    pub async fn until(&self, step: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            match self.page.execute(script, json!([])).await {
                Ok(Value::Null) | Ok(Value::Bool(false)) => {}
                Ok(v) => return v,
                Err(e) => eprintln!("{step}: script failed: {e}"),
            }
            if Instant::now() >= deadline {
                self.shot(&format!("{step}-timeout")).await;
                panic!(
                    "step {step}: `{script}` not true within {timeout:?}\n{}",
                    self.describe().await
                );
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Run `script` once; its failure fails the test with the page's state.
    pub async fn run(&self, script: &str) -> Value {
        match self.page.execute(script, json!([])).await {
            Ok(v) => v,
            Err(e) => panic!("`{script}` failed: {e}\n{}", self.describe().await),
        }
    }
}
