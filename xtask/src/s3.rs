//! `cargo xtask s3-up [--port N]`: the local S3-compatible server.
//!
//! Installs moto's server from PyPI into `target/s3-venv` (once), starts it
//! in the background on 127.0.0.1 (port 9000 unless `--port` says
//! otherwise), waits until it answers, and prints the endpoint. The
//! backend-s3 tests start their own server; this one is for developers and
//! for CI steps that want one shared server
//! (`BACKEND_S3_TEST_ENDPOINT=http://127.0.0.1:9000`).

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{project_root, run_cmd};

const DEFAULT_PORT: u16 = 9000;

pub(crate) fn up(args: &[String]) -> Result<()> {
    let port = match args {
        [] => DEFAULT_PORT,
        [flag, value] if flag == "--port" => value
            .parse()
            .with_context(|| format!("--port wants a number, got {value:?}"))?,
        _ => bail!("usage: cargo xtask s3-up [--port N]"),
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    if answers(port) {
        eprintln!("an HTTP server already answers at {endpoint}; using it");
        println!("BACKEND_S3_TEST_ENDPOINT={endpoint}");
        return Ok(());
    }
    let python = moto_venv()?;
    let log_path = project_root().join("target").join("s3-up.log");
    let log =
        File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut child = Command::new(&python)
        .arg(project_root().join("crates/backend-s3/tests/support/moto_server.py"))
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting moto with {}", python.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !answers(port) {
        if let Some(status) = child.try_wait()? {
            let mut text = String::new();
            File::open(&log_path)?.read_to_string(&mut text)?;
            bail!("moto exited with {status} before answering:\n{text}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!(
                "moto did not answer at {endpoint} within 60 s; see {}",
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "moto (pid {}) serves S3 at {endpoint}; log in {}; stop it with `kill {}`",
        child.id(),
        log_path.display(),
        child.id()
    );
    println!("BACKEND_S3_TEST_ENDPOINT={endpoint}");
    Ok(())
}

/// `target/s3-venv/bin/python` with moto's server installed.
fn moto_venv() -> Result<std::path::PathBuf> {
    let venv = project_root().join("target").join("s3-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("creating target/s3-venv (install python3 and python3-venv)")?;
    }
    let has_moto = Command::new(&python)
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_moto {
        run_cmd(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "moto[server]",
        ]))
        .context("installing moto[server] from PyPI")?;
    }
    Ok(python)
}

fn answers(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 7];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/1."
}
