//! `cargo xtask bench NAME`: each benchmark is a `harness = false` bench
//! target of its crate that measures our backend and, in the same run, the
//! reference it is compared with.

use anyhow::{Result, bail};

use crate::{cargo, python, run_cmd};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let Some(name) = args.first() else {
        bail!("usage: cargo xtask bench <state|local|composite|docker|s3> [ARGS...]");
    };
    let extra = &args[1..];
    let (package, python_packages): (&str, &[&str]) = match name.as_str() {
        "state" => ("backend-state", &["deepagents"]),
        "local" => ("backend-local", &["deepagents"]),
        "composite" => ("backend-composite", &[]),
        "docker" => {
            crate::docker::ensure_engine_and_image()?;
            ("backend-docker", &[])
        }
        "s3" => ("backend-s3", &["boto3"]),
        other => bail!("unknown benchmark {other:?}; one of state, local, composite, docker, s3"),
    };
    let mut cmd = cargo();
    cmd.args(["bench", "-p", package, "--bench", name.as_str(), "--"]);
    cmd.args(extra);
    if !python_packages.is_empty() {
        cmd.env("BENCH_PYTHON", python::venv_with(python_packages)?);
    }
    run_cmd(&mut cmd)
}
