//! Compiling and matching any pattern against any path never panics.
#![no_main]

use backend_core::GlobPattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str)| {
    let (pattern, path) = input;
    if let Ok(glob) = GlobPattern::new(pattern) {
        let _ = glob.matches(path);
        let _ = glob.literal_prefix();
    }
});
