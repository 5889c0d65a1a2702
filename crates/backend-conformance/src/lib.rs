//! The conformance suite: the rules of `docs/semantics.md` turned into tests
//! that any [`Backend`] or [`Sandbox`] can run, including backends written
//! outside this workspace.
//!
//! The cases are plain `pub async fn case(fx: &Fixture)` functions grouped by
//! area ([`paths`], [`files`], [`read`], [`edit`], [`glob`], [`grep`],
//! [`batch`], [`concurrency`], [`exec`]). Each works under its own random
//! root directory ([`Fixture::path`]) and fails with a message naming the
//! rule of `docs/semantics.md` at stake. One table lists every case with the
//! capabilities it needs; it drives both [`conformance_tests!`] (one
//! `#[test]` per case) and [`run_suite`] (a [`Report`] for
//! `cargo xtask conformance`).
//!
//! # Example
//! In `tests/conformance.rs` of a backend crate:
//! ```ignore
//! use std::sync::Arc;
//! use backend_conformance::Subject;
//!
//! // Called once per case: return a fresh, isolated backend.
//! async fn make() -> Subject {
//!     Subject::backend(Arc::new(my_backend::MyBackend::new()))
//! }
//!
//! backend_conformance::conformance_tests!(
//!     name: "my-backend",
//!     factory: make,
//!     // The Capabilities fields MyBackend sets (checked when the tests run).
//!     capabilities: [atomic_edit],
//! );
//! ```
//! `cargo test --test conformance` then runs every case as its own test
//! (those needing a capability the list lacks are reported as ignored);
//! `cargo test --test conformance -- --ignored conformance_report` runs the
//! whole suite through the runner and, with `CONFORMANCE_REPORT_DIR` set,
//! writes `<dir>/my-backend.json`.
//!
//! The runner can also be called directly, here on the in-memory backend:
//! ```
//! # tokio::runtime::Runtime::new().expect("runtime").block_on(async {
//! use std::sync::Arc;
//! use backend_conformance::{Subject, run_suite};
//! use backend_state::StateBackend;
//!
//! let report = run_suite("state", || async {
//!     Subject::backend(Arc::new(StateBackend::new()))
//! })
//! .await;
//! assert!(report.is_success(), "{}", report.summary());
//! # });
//! ```
//!
//! # Capabilities
//! A case names the capabilities it needs as [`Capability`] values (field
//! names of [`Capabilities`](backend_core::Capabilities) in the table, so a
//! misspelt one does not compile). Under `cargo test` a case whose needs the
//! backend does not declare is an *ignored* test, not a passing one; the
//! runner records it as skipped. Cases never rely on behaviour
//! `docs/semantics.md` leaves to the backend.
//!
//! [`Backend`]: backend_core::Backend
//! [`Sandbox`]: backend_core::Sandbox

pub mod batch;
mod capability;
pub mod check;
pub mod concurrency;
pub mod edit;
pub mod exec;
pub mod files;
mod fixture;
pub mod glob;
pub mod grep;
pub mod paths;
pub mod read;
mod report;
mod runner;

pub use capability::Capability;
pub use fixture::{Fixture, Subject};
pub use report::{AreaCounts, CaseReport, Outcome, Report};
pub use runner::{CASE_TIMEOUT, Case, CaseFuture, cases, run_cases, run_suite};

#[doc(hidden)]
pub use runner::{case_test as __case_test, report_test as __report_test};

/// Expands to one `#[test]` per conformance case for the backend a factory
/// makes, plus an `#[ignore]`d `conformance_report` test that runs the whole
/// suite through [`run_suite`] and writes `$CONFORMANCE_REPORT_DIR/<name>.json`.
///
/// `capabilities` lists the [`Capabilities`](backend_core::Capabilities)
/// fields the subject sets, by field name; a name that is not a field does
/// not compile. A case that needs a capability missing from the list is
/// generated as an ignored test (`cargo test` reports it as ignored, with the
/// capability it needs); the others run. Every generated test first checks
/// that the list matches what the subject's `capabilities()` declares and
/// fails naming both when they differ, so the list cannot go stale.
///
/// Each test builds a multi-threaded tokio runtime, calls the factory for a
/// fresh [`Subject`] and runs its case like [`run_suite`] does.
///
/// ```ignore
/// async fn make() -> backend_conformance::Subject { /* a fresh backend */ }
/// backend_conformance::conformance_tests!(
///     name: "my-backend",
///     factory: make,
///     capabilities: [atomic_edit, modified_time],
/// );
/// ```
/// Several backends in one file: put each invocation in its own `mod` and
/// name the factory as `super::make_x`.
///
/// A name that is not a capability does not compile:
/// ```compile_fail
/// async fn make() -> backend_conformance::Subject { panic!("never called") }
/// backend_conformance::conformance_tests!(
///     name: "typo",
///     factory: make,
///     capabilities: [modifed_time],
/// );
/// ```
#[macro_export]
macro_rules! conformance_tests {
    (name: $name:expr, factory: $factory:path, capabilities: [$($declared:ident),* $(,)?] $(,)?) => {
        // Checked here too, not only inside the `#[test]` functions, which a
        // build without `--test` leaves out.
        const _: &[$crate::Capability] = &$crate::__capability_list!([$($declared)*]);
        $crate::__for_each_case!(tests $name, $factory, [$($declared)*]);
    };
    (name: $name:expr, factory: $factory:path $(,)?) => {
        compile_error!(
            "conformance_tests! needs `capabilities: [...]`: the Capabilities fields the subject \
             sets, e.g. `capabilities: [atomic_edit, modified_time]` (`[]` for none)"
        );
    };
}

/// The table of every case: `area::case [capabilities]`, written once and
/// expanded either into the list [`cases`] returns or into tests.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_case {
    ($($mode:tt)*) => {
        $crate::__case_items! { ($($mode)*) [
            paths::ls_rejects_dotdot [],
            paths::stat_rejects_dotdot [],
            paths::exists_rejects_dotdot [],
            paths::read_rejects_dotdot [],
            paths::read_bytes_rejects_dotdot [],
            paths::write_rejects_dotdot [],
            paths::edit_rejects_dotdot [],
            paths::delete_rejects_dotdot [],
            paths::glob_rejects_dotdot_path [],
            paths::grep_rejects_dotdot_path [],
            paths::upload_rejects_dotdot [],
            paths::download_rejects_dotdot [],
            paths::tilde_rejected [],
            paths::drive_letter_rejected [],
            paths::backslash_rejected [],
            paths::nul_rejected [],
            paths::control_characters_rejected [],
            paths::long_segment_rejected [],
            paths::long_path_rejected [],
            paths::double_slash_normalised [],
            paths::dot_segments_and_trailing_slash_normalised [],
            paths::relative_path_taken_from_root [],
            paths::names_containing_dotdot_accepted [],
            paths::unicode_names_round_trip [],
            paths::spaces_in_names_round_trip [],
            paths::results_carry_virtual_paths [],
            files::write_then_read_bytes_round_trips [],
            files::write_overwrites [],
            files::write_empty_file [],
            files::write_creates_missing_parents [],
            files::write_onto_directory_is_directory [],
            files::write_under_file_not_a_directory [],
            files::binary_round_trip_all_byte_values [],
            files::large_file_round_trip [],
            files::read_bytes_missing_is_file_not_found [],
            files::read_bytes_directory_is_directory [],
            files::ls_lists_direct_children_sorted [],
            files::ls_flags_directories [],
            files::ls_reports_file_sizes [],
            files::ls_entries_carry_full_paths [],
            files::ls_file_is_not_a_directory [],
            files::ls_missing_is_file_not_found [],
            files::ls_root_shows_top_level_directories [],
            files::stat_file [],
            files::stat_directory [],
            files::stat_missing_is_file_not_found [],
            files::stat_reports_modified_time [modified_time],
            files::exists_reports_presence [],
            files::delete_file_removes_only_it [],
            files::delete_missing_is_file_not_found [],
            files::delete_directory_needs_recursive [],
            files::delete_recursive_removes_tree_only [],
            files::delete_root_is_permission_denied [],
            files::directory_survives_deleting_its_last_file [empty_directories],
            files::deleted_file_leaves_listings [],
            files::overwrite_keeps_one_entry [],
            files::names_sharing_a_prefix_stay_apart [],
            files::errors_name_operation_and_path [],
            read::read_whole_file [],
            read::read_page_in_the_middle [],
            read::read_pages_cover_the_file [],
            read::read_limit_past_end_returns_rest [],
            read::read_empty_file [],
            read::read_last_line_without_newline [],
            read::read_keeps_crlf [],
            read::read_counts_blank_lines [],
            read::read_offset_past_end_is_invalid_argument [],
            read::read_non_utf8_is_not_a_text_file [],
            read::read_missing_is_file_not_found [],
            read::read_directory_is_directory [],
            read::read_unicode_lines [],
            read::read_sees_latest_write [],
            read::read_extreme_offset_and_limit [],
            edit::edit_replaces_single_occurrence [],
            edit::edit_keeps_the_rest_byte_for_byte [],
            edit::edit_missing_string_is_string_not_found [],
            edit::edit_several_matches_is_multiple_occurrences [],
            edit::edit_replace_all_returns_count [],
            edit::edit_replace_all_single_match [],
            edit::edit_replace_all_does_not_recurse [],
            edit::edit_retries_with_crlf [],
            edit::edit_exact_crlf_match [],
            edit::edit_empty_old_is_invalid_argument [],
            edit::edit_empty_new_deletes_text [],
            edit::edit_missing_file_is_file_not_found [],
            edit::edit_directory_is_directory [],
            edit::edit_non_utf8_is_not_a_text_file [],
            edit::edit_unicode [],
            glob::glob_pattern_without_slash_matches_any_depth [],
            glob::glob_star_stays_in_one_segment [],
            glob::glob_double_star_spans_segments [],
            glob::glob_braces_alternate [],
            glob::glob_classes_and_question_mark [],
            glob::glob_wildcards_skip_hidden_names [],
            glob::glob_dot_pattern_matches_hidden [],
            glob::glob_dotdot_pattern_is_invalid_pattern [],
            glob::glob_malformed_pattern_is_invalid_pattern [],
            glob::glob_results_sorted [],
            glob::glob_limit_truncates [],
            glob::glob_exact_limit_not_truncated [],
            glob::glob_relative_to_search_path [],
            glob::glob_returns_files_only [],
            glob::glob_no_match_is_empty [],
            glob::glob_matches_names_containing_dotdot [],
            glob::glob_double_star_skips_hidden_directories [],
            grep::grep_fixed_string_by_default [],
            grep::grep_regex_mode [],
            grep::grep_invalid_regex_is_invalid_pattern [],
            grep::grep_case_insensitive [],
            grep::grep_case_insensitive_regex [],
            grep::grep_glob_filter [],
            grep::grep_max_count_truncates [],
            grep::grep_max_count_exact_not_truncated [],
            grep::grep_skips_binary_files [],
            grep::grep_late_nul_still_searched [],
            grep::grep_searches_hidden_files [],
            grep::grep_skips_git_directory [],
            grep::grep_context_lines [],
            grep::grep_context_at_file_edges [],
            grep::grep_cuts_long_lines [],
            grep::grep_default_line_cut_is_2000_chars [],
            grep::grep_sorted_by_path_then_line [],
            grep::grep_line_numbers_and_endings [],
            grep::grep_single_file_path [],
            grep::grep_limited_to_search_path [],
            grep::grep_no_match_is_empty [],
            grep::grep_one_match_per_line [],
            grep::grep_unicode [],
            grep::grep_invalid_glob_filter_is_invalid_pattern [],
            batch::upload_writes_every_file [],
            batch::upload_bad_item_among_good [],
            batch::upload_item_under_file_fails_alone [],
            batch::upload_empty_batch [],
            batch::download_reads_every_file [],
            batch::download_bad_item_among_good [],
            concurrency::concurrent_edits_lose_nothing [atomic_edit],
            concurrency::concurrent_writers_of_different_files [],
            concurrency::readers_see_old_or_new_never_a_mix [],
            exec::exec_reports_exit_code [execute],
            exec::exec_separates_stdout_and_stderr [execute],
            exec::exec_output_is_exact_bytes [execute],
            exec::exec_passes_environment [execute],
            exec::exec_sees_files_written_with_write [execute],
            exec::exec_starts_at_virtual_root [execute],
            exec::exec_files_created_visible_to_read [execute],
            exec::exec_runs_in_working_subdirectory [execute],
            exec::exec_workdir_traversal_is_invalid_path [execute],
            exec::exec_empty_command_is_invalid_argument [execute],
            exec::exec_feeds_stdin [execute],
            exec::exec_stdin_closed_unless_given [execute],
            exec::exec_timeout_is_reported [execute],
            exec::exec_timeout_kills_process_tree [execute],
            exec::exec_output_cap_truncates [execute],
            exec::exec_output_under_cap_is_whole [execute],
            exec::exec_does_not_inherit_host_secrets [execute],
            exec::stream_ends_with_one_exit [execute],
            exec::stream_events_in_order [execute, execute_streaming],
            exec::stream_yields_before_the_command_ends [execute, execute_streaming],
        ] }
    };
}

/// Expands the case table in one of two modes (see [`__for_each_case!`]):
/// `list`, the [`Case`]s [`cases`] returns, or `tests`, what
/// [`conformance_tests!`] generates.
#[doc(hidden)]
#[macro_export]
macro_rules! __case_items {
    ((list) [ $( $area:ident :: $case:ident [ $($cap:ident),* ] ),* $(,)? ]) => {
        vec![ $(
            $crate::Case {
                name: stringify!($case),
                area: stringify!($area),
                requires: &[ $( $crate::__capability!($cap) ),* ],
                run: |fx: $crate::Fixture| -> $crate::CaseFuture {
                    Box::pin(async move { $crate::$area::$case(&fx).await })
                },
            }
        ),* ]
    };
    ((tests $name:expr, $factory:path, $declared:tt) [ $( $area:ident :: $case:ident [ $($cap:ident),* ] ),* $(,)? ]) => {
        $(
            $crate::__case_test_item! { $declared [$($cap)*] [$($cap)*] $factory, $area, $case }
        )*

        #[test]
        #[ignore = "runs the whole suite and writes a report; run by `cargo xtask conformance`"]
        fn conformance_report() {
            $crate::__report_test($name, $factory, &$crate::__capability_list!($declared));
        }
    };
}

/// One case's test: walks the case's requirements and generates a plain
/// `#[test]` when the declaration holds all of them, or an ignored one
/// naming the first that it lacks.
#[doc(hidden)]
#[macro_export]
macro_rules! __case_test_item {
    ($declared:tt [] $all:tt $factory:path, $area:ident, $case:ident) => {
        $crate::__case_test_fn! { [] $declared $all $factory, $area, $case }
    };
    ($declared:tt [$first:ident $($rest:ident)*] $all:tt $factory:path, $area:ident, $case:ident) => {
        $crate::__if_declared! { $first $declared
            { $crate::__case_test_item! { $declared [$($rest)*] $all $factory, $area, $case } }
            {
                $crate::__case_test_fn! {
                    [#[ignore = concat!(
                        "needs capability `", stringify!($first), "`, which this backend does not declare"
                    )]]
                    $declared $all $factory, $area, $case
                }
            }
        }
    };
}

/// The `#[test]` function of one case, with extra attributes.
#[doc(hidden)]
#[macro_export]
macro_rules! __case_test_fn {
    ([$($attr:tt)*] $declared:tt [$($cap:ident)*] $factory:path, $area:ident, $case:ident) => {
        #[test]
        $($attr)*
        fn $case() {
            $crate::__case_test(
                $factory,
                &$crate::__capability_list!($declared),
                &[ $( $crate::__capability!($cap) ),* ],
                |fx: $crate::Fixture| -> $crate::CaseFuture {
                    Box::pin(async move { $crate::$area::$case(&fx).await })
                },
            );
        }
    };
}

/// `[a b]` of field names as an array of [`Capability`].
#[doc(hidden)]
#[macro_export]
macro_rules! __capability_list {
    ([$($cap:ident)*]) => {
        [ $( $crate::__capability!($cap) ),* ]
    };
}
