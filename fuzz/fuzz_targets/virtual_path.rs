//! Any string either fails to parse with `invalid_path`, or parses to a path
//! that keeps every promise of `VirtualPath`.
#![no_main]

use backend_core::{ErrorKind, VirtualPath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    match VirtualPath::parse(input) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidPath),
        Ok(p) => {
            let s = p.as_str();
            assert!(s.starts_with('/'));
            assert!(s == "/" || !s.ends_with('/'));
            assert!(!s.contains("//"));
            assert!(!s.chars().any(char::is_control));
            assert!(!s.contains('\\'));
            assert!(p.segments().all(|seg| seg != ".." && seg != "."));
            assert_eq!(VirtualPath::parse(s).ok().as_ref(), Some(&p));
            if let Some(parent) = p.parent() {
                assert!(p.starts_with(&parent));
            }
        }
    }
});
