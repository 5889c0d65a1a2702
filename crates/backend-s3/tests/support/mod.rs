//! The local S3-compatible server the tests and the benchmark run against:
//! moto's server from PyPI, in a virtual environment under `target/`,
//! installed on first use and started on a free port of 127.0.0.1.
//!
//! `BACKEND_S3_TEST_ENDPOINT=http://host:port` uses a server that is already
//! running instead (e.g. one from `cargo xtask s3-up`). Every run uses a
//! fresh bucket.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use backend_s3::{S3Backend, S3Config};

/// The credentials moto accepts (any); never real ones.
pub const ACCESS_KEY: &str = "testing-access-key";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "testing-secret-key-never-shown";

const INSTALL_HINT: &str = "the S3 tests need moto's server from PyPI: run `cargo xtask s3-up` \
     (or `python3 -m venv target/s3-venv && target/s3-venv/bin/pip install \"moto[server]\"`), \
     or point BACKEND_S3_TEST_ENDPOINT at a running S3-compatible server";

/// The server script (see its docstring for why it wraps moto).
const MOTO_SERVER_PY: &str = include_str!("moto_server.py");

/// Stops moto when the test process ends: the server is started under a
/// wrapper that exits when its stdin closes, and that pipe's write end
/// lives here until the process exits.
pub struct MotoServer {
    child: Child,
    _stdin: ChildStdin,
    /// Where it listens.
    pub port: u16,
}

impl MotoServer {
    /// Starts moto on `port` (a free one when `None`) and waits until it
    /// answers.
    pub fn start(port: Option<u16>) -> MotoServer {
        let python = moto_python();
        let port = port.unwrap_or_else(free_port);
        let log = target_dir().join(format!("s3-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("creating the moto log file");
        let mut child = Command::new(&python)
            .args([
                "-c",
                MOTO_SERVER_PY,
                &port.to_string(),
                "--exit-on-stdin-eof",
            ])
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone().expect("cloning the log handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting moto with {}: {e}; {INSTALL_HINT}",
                    python.display()
                )
            });
        let stdin = child.stdin.take().expect("moto's stdin is piped");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if answers(port) {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut text = String::new();
                let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
                panic!("moto exited with {status} before answering:\n{text}\n{INSTALL_HINT}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "moto did not answer on port {port} within 60 s; see {}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        MotoServer {
            child,
            _stdin: stdin,
            port,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server and waits until it is gone.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The venv python with moto, installing it on first use. The venv is
/// built in a scratch directory and renamed into place, so that two test
/// processes never see a half-installed one.
pub fn moto_python() -> PathBuf {
    let venv = target_dir().join("s3-venv");
    let python = venv.join("bin").join("python");
    if has_moto(&python) {
        return python;
    }
    let scratch = target_dir().join(format!("s3-venv.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&scratch)
        .status();
    if !matches!(created, Ok(s) if s.success()) {
        panic!(
            "could not create a Python virtual environment with `python3 -m venv` ({created:?}); install python3 and python3-venv. {INSTALL_HINT}"
        );
    }
    let installed = Command::new(scratch.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "moto[server]",
        ])
        .status();
    if !matches!(installed, Ok(s) if s.success()) {
        let _ = std::fs::remove_dir_all(&scratch);
        panic!("`pip install \"moto[server]\"` failed ({installed:?}); {INSTALL_HINT}");
    }
    if std::fs::rename(&scratch, &venv).is_err() {
        // Another process won the race; use its venv.
        let _ = std::fs::remove_dir_all(&scratch);
    }
    assert!(
        has_moto(&python),
        "moto is still missing from {}; {INSTALL_HINT}",
        python.display()
    );
    python
}

fn has_moto(python: &Path) -> bool {
    python.exists()
        && Command::new(python)
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("finding a free port")
}

/// Whether an HTTP server answers on `port`.
pub fn answers(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

struct Shared {
    endpoint: String,
    bucket: String,
    _server: Option<MotoServer>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let (endpoint, server) = match std::env::var("BACKEND_S3_TEST_ENDPOINT") {
            Ok(url) if !url.is_empty() => (url, None),
            _ => {
                let server = MotoServer::start(None);
                (server.endpoint(), Some(server))
            }
        };
        let bucket = format!(
            "agent-backend-test-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        Shared {
            endpoint,
            bucket,
            _server: server,
        }
    })
}

/// The endpoint of the shared server of this test process.
pub fn endpoint() -> String {
    shared().endpoint.clone()
}

/// This run's bucket on the shared server.
pub fn bucket() -> String {
    shared().bucket.clone()
}

/// A config for `bucket` at `endpoint` with the test credentials.
pub fn config_for(endpoint: &str, bucket: &str, prefix: &str) -> S3Config {
    S3Config::new(bucket)
        .prefix(prefix)
        .endpoint_url(endpoint)
        .region("us-east-1")
        .force_path_style(true)
        .credentials(ACCESS_KEY, SECRET_KEY, None)
}

/// Creates `bucket` unless it exists.
pub async fn ensure_bucket(endpoint: &str, bucket: &str) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .load()
        .await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    if let Err(e) = client.create_bucket().bucket(bucket).send().await {
        let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e)
            .unwrap_or_default()
            .to_owned();
        assert!(
            code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists",
            "creating bucket {bucket} at {endpoint} failed: {}",
            aws_sdk_s3::error::DisplayErrorContext(&e)
        );
    }
}

/// The key prefix for one test: unique, so tests share the run's bucket
/// without seeing each other's files.
pub fn fresh_prefix(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

/// A backend on the shared server under a fresh prefix.
pub async fn backend(name: &str) -> S3Backend {
    backend_with(name, |c| c).await
}

/// [`backend`] with a changed config.
pub async fn backend_with(name: &str, change: impl FnOnce(S3Config) -> S3Config) -> S3Backend {
    let (endpoint, bucket) = (endpoint(), bucket());
    ensure_bucket(&endpoint, &bucket).await;
    let config = change(config_for(&endpoint, &bucket, &fresh_prefix(name)));
    S3Backend::connect(config)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test S3 server at {endpoint}: {e}"))
}
