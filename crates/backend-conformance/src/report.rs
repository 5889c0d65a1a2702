//! The outcome of a suite run, serialisable for `cargo xtask conformance`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use backend_core::Capabilities;
use serde::{Deserialize, Serialize};

/// How one case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// An assertion failed, the case panicked or timed out, or cleanup failed.
    Failed,
    /// The backend lacks a capability the case needs.
    Skipped,
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseReport {
    /// The case (and test function) name.
    pub name: String,
    /// Its area.
    pub area: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
}

/// Counts for one area.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaCounts {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases not run for lack of a capability.
    pub skipped: usize,
}

/// The result of [`run_suite`](crate::run_suite) for one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The name the backend was run under.
    pub backend: String,
    /// What the backend declared.
    pub capabilities: Capabilities,
    /// Every case, in table order.
    pub cases: Vec<CaseReport>,
    /// The whole run, in milliseconds.
    pub duration_ms: f64,
}

impl Report {
    /// The case named `name`.
    pub fn case(&self, name: &str) -> Option<&CaseReport> {
        self.cases.iter().find(|c| c.name == name)
    }

    /// Cases that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CaseReport> {
        self.cases.iter().filter(|c| c.outcome == Outcome::Failed)
    }

    /// The names of the failed cases.
    pub fn failed_names(&self) -> Vec<&str> {
        self.failures().map(|c| c.name.as_str()).collect()
    }

    /// How many cases ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }

    /// Whether no case failed.
    pub fn is_success(&self) -> bool {
        self.count(Outcome::Failed) == 0
    }

    /// Counts per area, by area name.
    pub fn by_area(&self) -> BTreeMap<String, AreaCounts> {
        let mut areas: BTreeMap<String, AreaCounts> = BTreeMap::new();
        for case in &self.cases {
            let counts = areas.entry(case.area.clone()).or_default();
            match case.outcome {
                Outcome::Passed => counts.passed += 1,
                Outcome::Failed => counts.failed += 1,
                Outcome::Skipped => counts.skipped += 1,
            }
        }
        areas
    }

    /// A short text summary: totals, per-area counts and each failure.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "conformance {}: {} passed, {} failed, {} skipped in {:.0} ms\n",
            self.backend,
            self.count(Outcome::Passed),
            self.count(Outcome::Failed),
            self.count(Outcome::Skipped),
            self.duration_ms
        );
        for (area, c) in self.by_area() {
            let _ = writeln!(
                out,
                "  {area:<12} {}/{} passed, {} skipped",
                c.passed,
                c.passed + c.failed,
                c.skipped
            );
        }
        for case in self.failures() {
            let _ = writeln!(
                out,
                "  FAILED {}::{}: {}",
                case.area,
                case.name,
                case.message.as_deref().unwrap_or("")
            );
        }
        out
    }

    /// Writes the report as `<dir>/<backend>.json`, creating `dir`.
    pub fn write_to_dir(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.json", self.backend));
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, json)?;
        Ok(path)
    }
}
