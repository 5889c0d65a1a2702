//! The optional byte quota: writes, uploads, edits and overlay commits that
//! would take the root past it fail with `quota_exceeded` and change nothing.

use backend_core::{Backend, BackendExt, ErrorKind, FileUpload};
use backend_local::{LocalBackend, LocalOptions};

fn with_quota(dir: &tempfile::TempDir, bytes: u64) -> LocalBackend {
    LocalBackend::with_options(dir.path(), LocalOptions::default().quota_bytes(bytes))
        .expect("backend")
}

#[tokio::test]
async fn writes_uploads_and_edits_past_the_quota_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let b = with_quota(&dir, 10);
    b.write_str("/a.txt", "123456")
        .await
        .expect("6 of 10 bytes");
    let err = b.write_str("/b.txt", "123456").await.expect_err("12 > 10");
    assert_eq!(err.kind(), ErrorKind::QuotaExceeded, "{err}");
    assert!(
        !dir.path().join("b.txt").exists(),
        "a refused write left a file"
    );
    // Replacing counts the old size out.
    b.write_str("/a.txt", "1234567890").await.expect("10 of 10");
    let err = b
        .edit("/a.txt", "0", "0+", false)
        .await
        .expect_err("11 > 10");
    assert_eq!(err.kind(), ErrorKind::QuotaExceeded, "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("a.txt")).expect("a"),
        b"1234567890"
    );
    let uploaded = b
        .upload_files(vec![FileUpload::new("/c.bin", vec![0u8; 1])])
        .await;
    assert_eq!(
        uploaded[0].error.as_ref().map(|e| e.kind()),
        Some(ErrorKind::QuotaExceeded)
    );
    // Shrinking always passes, and frees room.
    b.edit("/a.txt", "67890", "", false).await.expect("shrink");
    b.write_str("/b.txt", "12345")
        .await
        .expect("10 of 10 again");
}

#[tokio::test]
async fn files_made_outside_the_backend_count_and_commit_is_checked() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("sub")).expect("sub");
    std::fs::write(dir.path().join("sub/big"), [0u8; 8]).expect("outside write");
    let b = with_quota(&dir, 10);
    let err = b.write_str("/x", "123").await.expect_err("8 + 3 > 10");
    assert_eq!(err.kind(), ErrorKind::QuotaExceeded, "{err}");
    let overlay =
        LocalBackend::overlay_with_options(dir.path(), LocalOptions::default().quota_bytes(10))
            .expect("overlay");
    overlay
        .write_str("/x", "123")
        .await
        .expect("kept in memory");
    let err = overlay
        .commit()
        .await
        .expect_err("the commit passes the quota");
    assert_eq!(err.kind(), ErrorKind::QuotaExceeded, "{err}");
    assert!(!dir.path().join("x").exists());
}
