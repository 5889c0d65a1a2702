//! Concurrent use of one backend (docs/semantics.md, "Concurrency").

use std::sync::Arc;

use futures::future::join_all;

use crate::Fixture;
use crate::check::ok;

const TASKS: usize = 32;
const EDITS_PER_TASK: usize = 50;

/// 32 tasks × 50 edits, each adding a distinct token to one file, keep all
/// 1,600 tokens.
pub async fn concurrent_edits_lose_nothing(fx: &Fixture) {
    let rule =
        "semantics.md edit: concurrent edits of one file through one backend never lose an update";
    fx.put("shared.txt", "END\n").await;
    let path = Arc::new(fx.path("shared.txt"));
    let tasks = (0..TASKS).map(|task| {
        let backend = fx.backend.clone();
        let path = path.clone();
        tokio::spawn(async move {
            for edit in 0..EDITS_PER_TASK {
                let token = format!("t{task:02}e{edit:02}\n");
                if let Err(e) = backend
                    .edit(&path, "END\n", &format!("{token}END\n"), false)
                    .await
                {
                    return Err(format!("edit {edit} of task {task}: {e}"));
                }
            }
            Ok(())
        })
    });
    for outcome in join_all(tasks).await {
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{rule}: {e}"),
            Err(e) => panic!("{rule}: a task failed: {e}"),
        }
    }
    let text = fx.get_text("shared.txt").await;
    let missing: Vec<String> = (0..TASKS)
        .flat_map(|t| (0..EDITS_PER_TASK).map(move |e| format!("t{t:02}e{e:02}\n")))
        .filter(|token| !text.contains(token.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{rule}: {} of {} tokens lost, e.g. {:?}",
        missing.len(),
        TASKS * EDITS_PER_TASK,
        missing.iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(
        text.lines().count(),
        TASKS * EDITS_PER_TASK + 1,
        "{rule}: no token twice"
    );
}

/// 32 writers of different files at once all land.
pub async fn concurrent_writers_of_different_files(fx: &Fixture) {
    let rule = "semantics.md write: concurrent writes of different files all land";
    let tasks = (0..TASKS).map(|i| {
        let backend = fx.backend.clone();
        let path = fx.path(&format!("w/{}/file{i}.txt", i % 4));
        tokio::spawn(async move {
            backend
                .write(&path, format!("writer {i}\n").into_bytes())
                .await
        })
    });
    for (i, outcome) in join_all(tasks).await.into_iter().enumerate() {
        match outcome {
            Ok(result) => ok(result, &format!("{rule} (writer {i})")),
            Err(e) => panic!("{rule}: writer {i} failed: {e}"),
        }
    }
    for i in 0..TASKS {
        let text = fx.get_text(&format!("w/{}/file{i}.txt", i % 4)).await;
        assert_eq!(text, format!("writer {i}\n"), "{rule}");
    }
    let found = ok(
        fx.backend
            .glob(&backend_core::GlobRequest::new("*.txt").path(fx.path("w")))
            .await,
        rule,
    );
    assert_eq!(found.files.len(), TASKS, "{rule}: glob sees every file");
}

/// Readers racing an overwrite see the old or the new content, never a mix.
pub async fn readers_see_old_or_new_never_a_mix(fx: &Fixture) {
    let rule = "semantics.md write: a reader sees the old or the new content, never a mix";
    let size = 1024 * 1024;
    let old = vec![b'o'; size];
    let new = vec![b'n'; size + 4096];
    fx.put("swap.bin", &old).await;
    let path = fx.path("swap.bin");
    let writer = {
        let backend = fx.backend.clone();
        let (path, old, new) = (path.clone(), old.clone(), new.clone());
        tokio::spawn(async move {
            for round in 0..10 {
                let content = if round % 2 == 0 {
                    new.clone()
                } else {
                    old.clone()
                };
                backend.write(&path, content).await?;
            }
            Ok::<(), backend_core::Error>(())
        })
    };
    let readers = (0..4).map(|_| {
        let backend = fx.backend.clone();
        let path = path.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..10 {
                seen.push(backend.read_bytes(&path).await);
            }
            seen
        })
    });
    let seen = join_all(readers).await;
    match writer.await {
        Ok(result) => ok(result, rule),
        Err(e) => panic!("{rule}: the writer failed: {e}"),
    }
    for reads in seen {
        let reads = reads.unwrap_or_else(|e| panic!("{rule}: a reader failed: {e}"));
        for read in reads {
            let bytes = ok(read, rule);
            assert!(
                bytes == old || bytes == new,
                "{rule}: read {} bytes that are neither",
                bytes.len()
            );
        }
    }
}
