//! The temporary file of an interrupted write is never listed, globbed or
//! grepped, and opening the root removes it once its writer is gone.

use backend_core::{Backend, GlobRequest, GrepRequest};
use backend_local::{LocalBackend, LocalOptions};

/// The pid of a process that has exited (a killed writer's, say).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

async fn assert_hidden(b: &LocalBackend, case: &str) {
    let listed: Vec<String> = b
        .ls("/")
        .await
        .expect("ls")
        .into_iter()
        .chain(b.ls("/sub").await.expect("ls /sub"))
        .map(|f| f.path.to_string())
        .collect();
    assert!(
        listed.iter().all(|p| !p.contains(".tmp")),
        "{case}: ls {listed:?}"
    );
    let globbed = b.glob(&GlobRequest::new("**/.*")).await.expect("glob");
    assert!(
        globbed
            .files
            .iter()
            .all(|f| !f.path.as_str().contains(".tmp")),
        "{case}: glob {:?}",
        globbed.files
    );
    let grepped = b
        .grep(&GrepRequest::new("half-written"))
        .await
        .expect("grep");
    assert!(
        grepped.matches.is_empty(),
        "{case}: grep {:?}",
        grepped.matches
    );
}

#[tokio::test]
async fn a_killed_writers_temp_file_is_hidden_and_removed_on_open() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("sub")).expect("sub");
    std::fs::write(dir.path().join("a.txt"), "whole\n").expect("a.txt");
    let name = format!(".backend-local-{}-1f-0.tmp", dead_pid());
    for at in [dir.path().join(&name), dir.path().join("sub").join(&name)] {
        std::fs::write(&at, "half-written\n").expect("leftover");
    }
    let b = LocalBackend::new(dir.path()).expect("open");
    assert_hidden(&b, "after the sweep").await;
    assert!(!dir.path().join(&name).exists(), "the leftover stayed");
    assert!(
        !dir.path().join("sub").join(&name).exists(),
        "the nested leftover stayed"
    );
    assert_eq!(
        b.ls("/").await.expect("ls").len(),
        2,
        "a.txt and sub remain"
    );
}

#[tokio::test]
async fn a_write_in_flight_is_hidden_but_not_removed() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("sub")).expect("sub");
    // This process is alive: its temp file may be a write in progress.
    let name = format!(".backend-local-{}-1f-0.tmp", std::process::id());
    std::fs::write(dir.path().join("sub").join(&name), "half-written\n").expect("in flight");
    let dead = format!(".backend-local-{}-1f-0.tmp", dead_pid());
    std::fs::write(dir.path().join(&dead), "half-written\n").expect("leftover");
    let b = LocalBackend::with_options(dir.path(), LocalOptions::default().sweep_temp_files(false))
        .expect("open");
    assert_hidden(&b, "no sweep").await;
    assert!(
        dir.path().join(&dead).exists(),
        "sweep_temp_files(false) keeps it"
    );
    let b = LocalBackend::new(dir.path()).expect("open");
    assert_hidden(&b, "swept").await;
    assert!(
        dir.path().join("sub").join(&name).exists(),
        "a live writer's file was removed"
    );
    assert!(!dir.path().join(&dead).exists());
}
