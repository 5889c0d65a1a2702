//! Keeping every process a command starts inside its call.
//!
//! A command's `sh` is not the server's child but the child of a small
//! supervisor: the process `spawn` forks, marked a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so that any descendant orphaned on the way (a
//! `setsid`, `nohup … &` or double-forked daemon) is re-parented to it, not
//! to init, and stays findable. The supervisor only reaps: it sends the
//! shell's wait status through a pipe and exits once it has no child left.
//! When the shell has ended (or at the timeout) the sandbox kills every
//! process below the supervisor, found by the parent links in `/proc`,
//! until none is left.
//!
//! What this cannot catch: a command that kills its own supervisor with
//! `SIGKILL` (every other signal is ignored there) hands its orphans to
//! init; the call then ends with an error saying so.

use std::collections::HashMap;
use std::io;
use std::os::fd::{OwnedFd, RawFd};

use backend_core::{Error, ErrorKind, Operation, Result};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use rustix::process::{Pid, Signal};

/// How long killing a command's processes may take before the call gives
/// up and reports the survivors.
const KILL_BOUND: Duration = Duration::from_secs(1);
/// Where the supervisor keeps the status pipe (it closes every other fd).
const STATUS_FD: RawFd = 3;

/// Runs in the forked child before `exec`: forks again, turning this
/// process into the supervisor (which never returns) and returning `Ok` in
/// the command process, which goes on to `exec` the shell.
///
/// # Safety
/// Must be called only from a `pre_exec` closure, after `setsid`;
/// `status_fd` must be the write end of a pipe open in this process.
#[allow(unsafe_code)]
pub(crate) unsafe fn fork_supervisor(status_fd: RawFd) -> io::Result<()> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
    let supervisor = rustix::process::getpid();
    // SAFETY: the child only makes raw system calls before `exec`, as in
    // any `pre_exec` closure; the parent side never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // The command: its own process group, so that `kill 0` in a script
        // cannot reach the supervisor, and dies with the supervisor.
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
        if rustix::process::getppid() != Some(supervisor) {
            return Err(rustix::io::Errno::SRCH.into());
        }
        rustix::process::setpgid(None, None)?;
        return Ok(());
    }
    // SAFETY: as above; `supervise` makes raw system calls only.
    unsafe { supervise(pid, status_fd) }
}

/// The supervisor's whole life: reap children, report the shell's status,
/// exit when no child is left.
#[allow(unsafe_code)]
unsafe fn supervise(command: libc::pid_t, status_fd: RawFd) -> ! {
    // SAFETY: plain system calls on values this process owns; no
    // allocation or locking, as a forked child of a threaded process needs.
    unsafe {
        for signal in 1..32 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP && signal != libc::SIGCHLD {
                libc::signal(signal, libc::SIG_IGN);
            }
        }
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        if status_fd != STATUS_FD {
            libc::dup2(status_fd, STATUS_FD);
        }
        // Holding no pipe of the command (nor the error pipe `spawn` waits
        // on) lets their readers see the end when the command's side closes.
        for fd in 0..STATUS_FD {
            libc::close(fd);
        }
        if libc::syscall(libc::SYS_close_range, STATUS_FD + 1, u32::MAX, 0) != 0 {
            for fd in STATUS_FD + 1..4096 {
                libc::close(fd);
            }
        }
        loop {
            let mut status: libc::c_int = 0;
            let pid = libc::waitpid(-1, &mut status, 0);
            if pid == command {
                let bytes = status.to_ne_bytes();
                libc::write(STATUS_FD, bytes.as_ptr().cast(), bytes.len());
                libc::close(STATUS_FD);
            } else if pid < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                // ECHILD: every descendant is gone.
                libc::_exit(0);
            }
        }
    }
}

/// Kills every live process below `supervisor` (not the supervisor itself),
/// again and again while new ones appear, until none is left.
///
/// Errors: `/proc` cannot be read, a process cannot be signalled (it
/// changed user, say), or some are still alive after [`KILL_BOUND`].
pub(crate) fn kill_descendants(supervisor: i32) -> std::result::Result<(), String> {
    let deadline = Instant::now() + KILL_BOUND;
    loop {
        let live = descendants(supervisor)
            .map_err(|e| format!("cannot list the command's processes in /proc: {e}"))?;
        if live.is_empty() {
            return Ok(());
        }
        for pid in &live {
            if let Some(p) = Pid::from_raw(*pid) {
                match rustix::process::kill_process(p, Signal::KILL) {
                    Ok(()) | Err(rustix::io::Errno::SRCH) => {}
                    Err(e) => {
                        return Err(format!(
                            "cannot kill process {pid} started by the command: {e}"
                        ));
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} processes started by the command still run {KILL_BOUND:?} after being killed",
                live.len()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sends `SIGKILL` to the supervisor itself (for a stopped or stuck one,
/// once its descendants are gone).
pub(crate) fn kill_supervisor(supervisor: i32) {
    if let Some(p) = Pid::from_raw(supervisor) {
        // ESRCH: it has already exited.
        let _ = rustix::process::kill_process(p, Signal::KILL);
    }
}

/// The live (not zombie) processes whose chain of parents reaches `root`.
pub(crate) fn descendants(root: i32) -> io::Result<Vec<i32>> {
    let mut children: HashMap<i32, Vec<(i32, bool)>> = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and this read.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((state, ppid)) = parse_stat(&stat) {
            children
                .entry(ppid)
                .or_default()
                .push((pid, !matches!(state, 'Z' | 'X')));
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for (pid, live) in children.remove(&parent).unwrap_or_default() {
            if live {
                found.push(pid);
            }
            queue.push(pid);
        }
    }
    Ok(found)
}

/// The state letter and parent pid of a `/proc/PID/stat` line (the name
/// in parentheses may itself hold spaces and parentheses).
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The pipe the supervisor reports the shell's wait status through.
pub(crate) fn status_pipe(op: Operation) -> Result<(pipe::Receiver, OwnedFd)> {
    let unavailable = |e: std::io::Error| {
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot make the command's status pipe: {e}"),
        )
        .with_operation(op)
        .with_source(e)
    };
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| unavailable(e.into()))?;
    let read = pipe::Receiver::from_owned_fd(read).map_err(unavailable)?;
    Ok((read, write))
}

/// The shell's raw wait status, or `None` when the supervisor ended
/// without sending it.
pub(crate) async fn read_status(status: &mut pipe::Receiver) -> Option<i32> {
    let mut bytes = [0u8; 4];
    status.read_exact(&mut bytes).await.ok()?;
    Some(i32::from_ne_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        assert_eq!(parse_stat("12 (a) b (c)) S 7 12 12 0 -1"), Some(('S', 7)));
        assert_eq!(parse_stat("garbage"), None);
    }
}
