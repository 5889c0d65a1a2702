//! An `e2b://` location builds a real E2B client that works against the
//! local fake of E2B's published API.

#![cfg(feature = "e2b")]

use agent_backend::{BackendExt, ExecRequest, open};
use remote_fakes::e2b::{API_KEY, FakeE2b};

/// The variable the location names with `api_key_env`.
const KEY_VAR: &str = "AGENT_BACKEND_TEST_E2B_KEY";

#[test]
fn e2b_location_builds_a_sandbox_that_stores_files_and_runs_commands() {
    // SAFETY: this is the only test of this binary and it sets the variable
    // before starting the runtime, so no other thread reads the environment
    // concurrently.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(KEY_VAR, API_KEY);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let fake = FakeE2b::start().await;
        let location = format!(
            "e2b://base?api_url={}&envd_url={}&root_dir={}&api_key_env={KEY_VAR}&timeout=600",
            fake.api_url(),
            fake.envd_url(),
            fake.new_workdir()
        );
        let built = open(&location).await.expect("the sandbox is created");
        assert_eq!(built.description(), "e2b://base");
        let sandbox = built.require_sandbox().expect("e2b is a sandbox").clone();
        built
            .backend()
            .write_str("/hello.txt", "hi\n")
            .await
            .expect("write");
        let out = sandbox
            .execute(ExecRequest::new("cat hello.txt"))
            .await
            .expect("the command runs");
        assert_eq!(out.stdout_text(), "hi\n");
        assert_eq!(fake.live_sandboxes(), 1);
        built.close().await.expect("close");
        assert_eq!(fake.live_sandboxes(), 0);
    });
}
