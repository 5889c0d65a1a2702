//! `cargo xtask docker-up` and `docker-image`.

use anyhow::{Result, bail};

pub(crate) fn up(_args: &[String]) -> Result<()> {
    bail!("docker-up is being written")
}

pub(crate) fn image(_args: &[String]) -> Result<()> {
    bail!("docker-image is being written")
}

/// Makes sure an engine answers and the test image exists.
pub(crate) fn ensure_engine_and_image() -> Result<()> {
    up(&[])?;
    image(&[])
}
