//! `upload_files` / `download_files` (docs/semantics.md, "Batches").

use backend_core::{ErrorKind, FileUpload};

use crate::Fixture;

const BATCH: &str = "semantics.md upload_files/download_files: one result per item, in input order; one bad item does not fail the others";

fn kinds<'a>(
    errors: impl Iterator<Item = Option<&'a backend_core::Error>>,
) -> Vec<Option<ErrorKind>> {
    errors.map(|e| e.map(|e| e.kind())).collect()
}

/// Every item of a good batch is written.
pub async fn upload_writes_every_file(fx: &Fixture) {
    let files = (0..5)
        .map(|i| FileUpload::new(fx.path(&format!("up/{i}.txt")), format!("file {i}")))
        .collect();
    let results = fx.backend.upload_files(files).await;
    assert_eq!(
        kinds(results.iter().map(|r| r.error.as_ref())),
        vec![None; 5],
        "{BATCH}"
    );
    for i in 0..5 {
        assert_eq!(
            fx.get_text(&format!("up/{i}.txt")).await,
            format!("file {i}"),
            "{BATCH}"
        );
    }
}

/// One bad path among good ones fails alone; order is kept.
pub async fn upload_bad_item_among_good(fx: &Fixture) {
    let files = vec![
        FileUpload::new(fx.path("first.txt"), "1"),
        FileUpload::new(fx.path("../escape.txt"), "bad"),
        FileUpload::new(fx.path("third.txt"), "3"),
        FileUpload::new(fx.path("fourth.bin"), vec![0u8, 255, 10]),
    ];
    let results = fx.backend.upload_files(files.clone()).await;
    let paths: Vec<&str> = results.iter().map(|r| r.path.as_str()).collect();
    let given: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths, given,
        "{BATCH}: results in input order, paths as given"
    );
    assert_eq!(
        kinds(results.iter().map(|r| r.error.as_ref())),
        [None, Some(ErrorKind::InvalidPath), None, None],
        "{BATCH}"
    );
    assert_eq!(fx.get("first.txt").await, b"1", "{BATCH}");
    assert_eq!(
        fx.get("third.txt").await,
        b"3",
        "{BATCH}: items after the bad one are written"
    );
    assert_eq!(fx.get("fourth.bin").await, [0u8, 255, 10], "{BATCH}");
}

/// An item that would write under a file fails with `not_a_directory`; the rest succeed.
pub async fn upload_item_under_file_fails_alone(fx: &Fixture) {
    fx.put("plain", "file").await;
    let files = vec![
        FileUpload::new(fx.path("plain/child.txt"), "x"),
        FileUpload::new(fx.path("ok.txt"), "ok"),
    ];
    let results = fx.backend.upload_files(files).await;
    assert_eq!(
        kinds(results.iter().map(|r| r.error.as_ref())),
        [Some(ErrorKind::NotADirectory), None],
        "{BATCH}"
    );
    assert_eq!(fx.get("ok.txt").await, b"ok", "{BATCH}");
}

/// An empty batch gives an empty result.
pub async fn upload_empty_batch(fx: &Fixture) {
    assert!(
        fx.backend.upload_files(Vec::new()).await.is_empty(),
        "{BATCH}"
    );
    assert!(
        fx.backend.download_files(Vec::new()).await.is_empty(),
        "{BATCH}"
    );
}

/// Downloads come back with their bytes, in order.
pub async fn download_reads_every_file(fx: &Fixture) {
    fx.put("a.txt", "alpha").await;
    fx.put("b.bin", [0u8, 1, 2, 255]).await;
    let results = fx
        .backend
        .download_files(vec![fx.path("b.bin"), fx.path("a.txt")])
        .await;
    let contents: Vec<Option<Vec<u8>>> = results.iter().map(|r| r.content.clone()).collect();
    assert_eq!(
        contents,
        [Some(vec![0u8, 1, 2, 255]), Some(b"alpha".to_vec())],
        "{BATCH}"
    );
    assert!(results.iter().all(|r| r.error.is_none()), "{BATCH}");
}

/// One missing file among good ones fails alone; order is kept.
pub async fn download_bad_item_among_good(fx: &Fixture) {
    fx.put("one.txt", "1").await;
    fx.put("three.txt", "3").await;
    fx.put("dir/x", "x").await;
    let paths = vec![
        fx.path("one.txt"),
        fx.path("missing.txt"),
        fx.path("three.txt"),
        fx.path("dir"),
    ];
    let results = fx.backend.download_files(paths.clone()).await;
    let got: Vec<&str> = results.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        got, paths,
        "{BATCH}: results in input order, paths as given"
    );
    assert_eq!(
        kinds(results.iter().map(|r| r.error.as_ref())),
        [
            None,
            Some(ErrorKind::FileNotFound),
            None,
            Some(ErrorKind::IsDirectory)
        ],
        "{BATCH}"
    );
    assert_eq!(
        results[2].content.as_deref(),
        Some(&b"3"[..]),
        "{BATCH}: items after the bad one are read"
    );
    assert!(
        results[1].content.is_none(),
        "{BATCH}: no content for a failed item"
    );
}
