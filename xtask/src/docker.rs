//! `cargo xtask docker-up` and `docker-image`.
//!
//! `docker-up` makes a Docker engine answer: when none does and we are root,
//! it installs `docker.io` with apt, starts `dockerd` in the background
//! (log in `/var/log/dockerd.log`) and waits for it. `docker-image` builds
//! the test image `agent-backend-test:busybox` without a registry: a root
//! filesystem made of the Debian `busybox-static` binary and its applet
//! links, a non-root user, and the work directory, fed to `docker import`.
//! Both are idempotent.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::run_cmd;

/// The tag of the test image (also the default in `backend-docker`'s tests).
pub(crate) const TEST_IMAGE: &str = "agent-backend-test:busybox";
const DOCKERD_LOG: &str = "/var/log/dockerd.log";
const SOCKET: &str = "/var/run/docker.sock";

pub(crate) fn up(_args: &[String]) -> Result<()> {
    if engine_answers() {
        eprintln!("docker-up: the engine answers");
        return Ok(());
    }
    if !is_root() {
        bail!(
            "no Docker engine answers and this user is not root, so none can be installed or \
             started here; start one (e.g. `sudo dockerd &`) or set DOCKER_HOST"
        );
    }
    if which("dockerd").is_none() {
        eprintln!("docker-up: installing docker.io with apt-get");
        run_cmd(Command::new("apt-get").arg("update"))?;
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "docker.io"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    if !dockerd_running() {
        eprintln!("docker-up: starting dockerd (log: {DOCKERD_LOG})");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(DOCKERD_LOG)
            .with_context(|| format!("opening {DOCKERD_LOG}"))?;
        let err_log = log.try_clone().context("duplicating the log handle")?;
        // Detached on purpose: the engine outlives this command.
        Command::new("dockerd")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .context("starting dockerd")?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if Path::new(SOCKET).exists() && engine_answers() {
            eprintln!("docker-up: the engine answers");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("dockerd did not answer within 60 s; see {DOCKERD_LOG}")
}

pub(crate) fn image(_args: &[String]) -> Result<()> {
    if !engine_answers() {
        bail!("no Docker engine answers: run `cargo xtask docker-up` first");
    }
    let present = Command::new("docker")
        .args(["image", "inspect", TEST_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running docker")?
        .success();
    if present {
        eprintln!("docker-image: {TEST_IMAGE} is present");
        return Ok(());
    }
    let busybox = find_busybox()?;
    let root = tempfile_dir()?;
    let result = build_rootfs(&root, &busybox).and_then(|()| import(&root));
    let _ = std::fs::remove_dir_all(&root);
    result?;
    eprintln!("docker-image: built {TEST_IMAGE}");
    Ok(())
}

/// Makes sure an engine answers and the test image exists.
pub(crate) fn ensure_engine_and_image() -> Result<()> {
    up(&[])?;
    image(&[])
}

fn engine_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn dockerd_running() -> bool {
    Command::new("pidof")
        .arg("dockerd")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A statically linked busybox: Debian's `busybox-static` puts it at
/// `/bin/busybox`; installed with apt when missing and root.
fn find_busybox() -> Result<std::path::PathBuf> {
    let is_static = |p: &Path| {
        Command::new("file")
            .arg(p)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("statically linked"))
            .unwrap_or(false)
    };
    let candidates = ["/bin/busybox", "/usr/bin/busybox"];
    if let Some(found) = candidates
        .iter()
        .map(Path::new)
        .find(|p| p.is_file() && is_static(p))
    {
        return Ok(found.to_path_buf());
    }
    if !is_root() {
        bail!("no static busybox found; install the Debian package busybox-static");
    }
    run_cmd(
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "busybox-static",
                "file",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let found = Path::new("/bin/busybox");
    if found.is_file() {
        Ok(found.to_path_buf())
    } else {
        bail!("busybox-static installed but /bin/busybox is missing")
    }
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("agent-backend-rootfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The root filesystem: busybox and its applets in `/bin`, `sh`, a user
/// `agent` (1000) and `nobody` (65534), `/workspace` owned by `agent`, and
/// an empty `/tmp` (a tmpfs is mounted over it at run time).
fn build_rootfs(root: &Path, busybox: &Path) -> Result<()> {
    for dir in [
        "bin",
        "etc",
        "tmp",
        "workspace",
        "proc",
        "sys",
        "dev",
        "usr/bin",
        "sbin",
    ] {
        std::fs::create_dir_all(root.join(dir))?;
    }
    std::fs::copy(busybox, root.join("bin/busybox")).context("copying busybox")?;
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .context("listing busybox applets")?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
            .with_context(|| format!("linking applet {applet}"))?;
    }
    std::os::unix::fs::symlink("/bin/env", root.join("usr/bin/env"))?;
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/workspace:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nagent:x:1000:\nnogroup:x:65534:\n",
    )?;
    run_cmd(Command::new("chmod").args(["1777"]).arg(root.join("tmp")))?;
    run_cmd(
        Command::new("chown")
            .arg("1000:1000")
            .arg(root.join("workspace")),
    )?;
    Ok(())
}

fn import(root: &Path) -> Result<()> {
    let mut tar = Command::new("tar")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(root)
        .args(["-cf", "-", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting tar")?;
    let tar_out = tar.stdout.take().context("tar's output")?;
    let status = Command::new("docker")
        .args([
            "import",
            "--change",
            "WORKDIR /workspace",
            "--change",
            "ENV PATH=/bin:/usr/bin:/sbin",
            "-",
            TEST_IMAGE,
        ])
        .stdin(tar_out)
        .status()
        .context("running docker import")?;
    let tar_status = tar.wait().context("waiting for tar")?;
    if !tar_status.success() || !status.success() {
        bail!("building the image failed (tar: {tar_status}, docker import: {status})");
    }
    Ok(())
}
