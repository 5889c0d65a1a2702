use backend_core::{Backend, BackendExt, ErrorKind, GlobRequest};

use super::StateBackend;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn separate_instances_share_nothing() {
    block_on(async {
        let a = StateBackend::new();
        let b = StateBackend::new();
        a.write_str("/x.txt", "a").await.unwrap();
        assert!(!b.exists("/x.txt").await.unwrap());
        assert!(b.ls("/").await.unwrap().is_empty());
    });
}

#[test]
fn snapshot_round_trip_keeps_files_dirs_and_times() {
    block_on(async {
        let a = StateBackend::new();
        a.write("/bin/all.bytes", (0..=255u8).collect())
            .await
            .unwrap();
        a.write_str("/docs/readme.md", "hi\r\n").await.unwrap();
        a.write_str("/empty/keep/x", "").await.unwrap();
        a.delete("/empty/keep/x", false).await.unwrap();
        let before = a.stat("/docs/readme.md").await.unwrap();

        let b = StateBackend::from_snapshot(&a.snapshot()).unwrap();
        assert_eq!(
            b.read_bytes("/bin/all.bytes").await.unwrap(),
            (0..=255u8).collect::<Vec<_>>()
        );
        assert_eq!(b.read_to_string("/docs/readme.md").await.unwrap(), "hi\r\n");
        assert!(b.stat("/empty/keep").await.unwrap().is_dir);
        assert_eq!(
            b.stat("/docs/readme.md").await.unwrap().modified,
            before.modified
        );
        assert_eq!(b.used_bytes(), a.used_bytes());
        assert_eq!(b.snapshot(), a.snapshot());
    });
}

#[test]
fn corrupt_snapshots_are_refused_without_changing_state() {
    block_on(async {
        let a = StateBackend::new();
        a.write_str("/a", "1").await.unwrap();
        let good = a.snapshot();
        for bad in [
            &b"nope"[..],
            &good[..good.len() - 1],
            &[good.as_slice(), b"x"].concat(),
        ] {
            assert_eq!(
                StateBackend::from_snapshot(bad).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
            assert_eq!(
                a.restore(bad).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
        assert_eq!(a.read_to_string("/a").await.unwrap(), "1");
    });
}

#[test]
fn restore_replaces_state() {
    block_on(async {
        let a = StateBackend::new();
        a.write_str("/old", "1").await.unwrap();
        let saved = a.snapshot();
        a.write_str("/new", "2").await.unwrap();
        a.restore(&saved).unwrap();
        assert!(!a.exists("/new").await.unwrap());
        assert!(a.exists("/old").await.unwrap());
    });
}

#[test]
fn quota_refuses_writes_and_edits_that_pass_it() {
    block_on(async {
        let b = StateBackend::with_quota(10);
        b.write_str("/a", "12345").await.unwrap();
        b.write_str("/b", "12345").await.unwrap();
        let err = b.write_str("/c", "1").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::QuotaExceeded);
        assert!(!b.exists("/c").await.unwrap());
        // Replacing a file counts only the difference.
        b.write_str("/a", "abcde").await.unwrap();
        assert_eq!(
            b.edit("/a", "abcde", "abcdef", false)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::QuotaExceeded
        );
        assert_eq!(b.read_to_string("/a").await.unwrap(), "abcde");
        b.delete("/b", false).await.unwrap();
        b.write_str("/c", "12345").await.unwrap();
        assert_eq!(b.used_bytes(), 10);
        let full = b.snapshot();
        let small = StateBackend::with_quota(5);
        assert_eq!(
            small.restore(&full).unwrap_err().kind(),
            ErrorKind::QuotaExceeded
        );
    });
}

#[test]
fn recursive_delete_removes_the_subtree_and_its_bytes() {
    block_on(async {
        let b = StateBackend::new();
        b.write_str("/d/a", "12").await.unwrap();
        b.write_str("/d/e/b", "34").await.unwrap();
        b.write_str("/d-x", "5").await.unwrap();
        b.write_str("/d0", "6").await.unwrap();
        assert_eq!(
            b.delete("/d", false).await.unwrap_err().kind(),
            ErrorKind::IsDirectory
        );
        b.delete("/d", true).await.unwrap();
        assert_eq!(b.used_bytes(), 2);
        let names: Vec<_> = b
            .ls("/")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path.into_string())
            .collect();
        assert_eq!(names, ["/d-x", "/d0"]);
        assert!(b.glob(&GlobRequest::new("**")).await.unwrap().files.len() == 2);
    });
}

#[test]
fn writing_under_a_file_or_onto_a_directory_fails_cleanly() {
    block_on(async {
        let b = StateBackend::new();
        b.write_str("/f", "x").await.unwrap();
        assert_eq!(
            b.write_str("/f/g", "y").await.unwrap_err().kind(),
            ErrorKind::NotADirectory
        );
        b.write_str("/d/x", "x").await.unwrap();
        assert_eq!(
            b.write_str("/d", "y").await.unwrap_err().kind(),
            ErrorKind::IsDirectory
        );
        assert_eq!(
            b.write_str("/", "y").await.unwrap_err().kind(),
            ErrorKind::IsDirectory
        );
        assert_eq!(b.file_count(), 2);
    });
}

#[test]
fn large_greps_stay_sorted_and_count_exactly() {
    use backend_core::GrepRequest;
    block_on(async {
        let b = StateBackend::new();
        // 600 files of ~8 KiB: past the size where the search uses threads.
        let body = "filler line\n".repeat(700);
        for i in 0..600 {
            b.write_str(&format!("/d/{i:04}.txt"), &format!("{body}hit {i}\n"))
                .await
                .unwrap();
        }
        let all = b.grep(&GrepRequest::new("hit").path("/d")).await.unwrap();
        assert_eq!(all.matches.len(), 600);
        assert!(!all.truncated);
        let paths: Vec<_> = all
            .matches
            .iter()
            .map(|m| m.path.as_str().to_owned())
            .collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        let capped = b
            .grep(&GrepRequest::new("hit").path("/d").max_count(450))
            .await
            .unwrap();
        assert_eq!(capped.matches.len(), 450);
        assert!(capped.truncated);
        assert_eq!(capped.matches[449].path.as_str(), "/d/0449.txt");
        let exact = b
            .grep(&GrepRequest::new("hit").path("/d").max_count(600))
            .await
            .unwrap();
        assert!(!exact.truncated);
    });
}
