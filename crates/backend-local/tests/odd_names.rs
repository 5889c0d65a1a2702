//! Names that are not valid virtual paths (a newline, an ANSI escape) are
//! shown escaped in `ls`, `glob` and `grep`, never raw.

use backend_core::{Backend, GlobRequest, GrepRequest, VirtualPath};
use backend_local::LocalBackend;

const NEWLINE: &str = "ok.txt\n-rw-r--r-- fake.txt";
const ANSI: &str = "\u{1b}[2Jred.txt";

fn assert_clean(paths: &[String], case: &str) {
    for path in paths {
        assert!(
            !path.chars().any(char::is_control),
            "{case}: raw control character in {path:?}"
        );
        assert!(
            VirtualPath::parse(path).is_ok(),
            "{case}: {path:?} is not a valid path"
        );
    }
    assert!(
        paths
            .iter()
            .any(|p| p.contains("ok.txt\u{240a}-rw-r--r-- fake.txt")),
        "{case}: the newline name is not shown escaped: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.contains("\u{241b}[2Jred.txt")),
        "{case}: the ANSI name is not shown escaped: {paths:?}"
    );
}

#[tokio::test]
async fn control_characters_in_names_are_escaped_in_results() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("d\nir")).expect("dir with a newline");
    for name in [NEWLINE, ANSI] {
        std::fs::write(dir.path().join(name), "needle\n").expect("top-level file");
        std::fs::write(dir.path().join("d\nir").join(name), "needle\n").expect("nested file");
    }
    let b = LocalBackend::new(dir.path()).expect("backend");
    let listed: Vec<String> = b
        .ls("/")
        .await
        .expect("ls")
        .into_iter()
        .map(|f| f.path.to_string())
        .collect();
    assert_clean(&listed, "ls");
    assert!(listed.contains(&"/d\u{240a}ir".to_owned()), "{listed:?}");
    let globbed: Vec<String> = b
        .glob(&GlobRequest::new("**/*"))
        .await
        .expect("glob")
        .files
        .into_iter()
        .map(|f| f.path.to_string())
        .collect();
    assert_clean(&globbed, "glob");
    assert_eq!(globbed.len(), 4, "{globbed:?}");
    let grepped: Vec<String> = b
        .grep(&GrepRequest::new("needle"))
        .await
        .expect("grep")
        .matches
        .into_iter()
        .map(|m| m.path.to_string())
        .collect();
    assert_clean(&grepped, "grep");
    assert_eq!(grepped.len(), 4, "{grepped:?}");
}
