//! Labels naming who owns a container, and the reaper that removes the
//! leftovers of owners that died without closing their sandboxes.

use std::collections::HashMap;

use backend_core::{Operation, Result};
use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};

use crate::error;

/// Present (value `true`) on every container and volume this crate creates;
/// filter on it to find them all (`docker ps -a --filter label=agent-backend.managed`).
pub const LABEL_MANAGED: &str = "agent-backend.managed";
/// The process id of the owner.
pub const LABEL_OWNER_PID: &str = "agent-backend.owner-pid";
/// The owner's start time (clock ticks since boot), so a reused pid is not
/// mistaken for the owner.
pub const LABEL_OWNER_START: &str = "agent-backend.owner-start";
/// The host name of the owner.
pub const LABEL_OWNER_HOST: &str = "agent-backend.owner-host";
/// The session key, when the sandbox serves one.
pub const LABEL_SESSION: &str = "agent-backend.session";

/// Who this process is, as recorded in labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pid: u32,
    start: Option<u64>,
    host: String,
}

impl Owner {
    pub(crate) fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start: start_time(pid),
            host: host_name(),
        }
    }

    pub(crate) fn labels(&self) -> HashMap<String, String> {
        let mut labels = HashMap::new();
        labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        labels.insert(LABEL_OWNER_PID.to_owned(), self.pid.to_string());
        labels.insert(
            LABEL_OWNER_START.to_owned(),
            self.start.map(|s| s.to_string()).unwrap_or_default(),
        );
        labels.insert(LABEL_OWNER_HOST.to_owned(), self.host.clone());
        labels
    }

    /// Whether the owner named by `labels` is dead, as far as this host can
    /// tell (owners on other hosts are never judged dead).
    fn is_dead(labels: &HashMap<String, String>) -> bool {
        let here = host_name();
        if labels.get(LABEL_OWNER_HOST).is_some_and(|h| *h != here) {
            return false;
        }
        let Some(pid) = labels
            .get(LABEL_OWNER_PID)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            return true;
        };
        let recorded_start = labels
            .get(LABEL_OWNER_START)
            .and_then(|s| s.parse::<u64>().ok());
        match (start_time(pid), recorded_start) {
            (None, _) => true,
            (Some(now), Some(then)) => now != then,
            (Some(_), None) => false,
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// What [`reap`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReapReport {
    /// Names of the containers removed.
    pub containers: Vec<String>,
    /// Names of the volumes removed.
    pub volumes: Vec<String>,
}

/// Removes the containers and volumes created by processes on this host
/// that no longer run (crashed or killed before closing their sandboxes).
/// Leftovers of live processes are left alone.
pub async fn reap(docker: &Docker) -> Result<ReapReport> {
    let mut report = ReapReport::default();
    let filters = HashMap::from([("label", vec![LABEL_MANAGED.to_owned()])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| error::engine(Operation::Other, "listing sandbox containers", e))?;
    for container in containers {
        let labels = container.labels.unwrap_or_default();
        let Some(id) = container.id else { continue };
        if !Owner::is_dead(&labels) {
            continue;
        }
        let removed = docker
            .remove_container(
                &id,
                Some(
                    RemoveContainerOptionsBuilder::new()
                        .force(true)
                        .v(true)
                        .build(),
                ),
            )
            .await;
        match removed {
            Ok(()) => report.containers.push(id),
            Err(e) if error::status_of(&e).is_some_and(|(s, _)| s == 404) => {}
            Err(e) => {
                return Err(error::engine(
                    Operation::Other,
                    "removing a leftover container",
                    e,
                ));
            }
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|e| error::engine(Operation::Other, "listing sandbox volumes", e))?;
    for volume in volumes.volumes.unwrap_or_default() {
        if !Owner::is_dead(&volume.labels) {
            continue;
        }
        match docker
            .remove_volume(
                &volume.name,
                Some(RemoveVolumeOptionsBuilder::new().force(true).build()),
            )
            .await
        {
            Ok(()) => report.volumes.push(volume.name),
            // In use by a container of a live owner, or already gone.
            Err(e) if error::status_of(&e).is_some_and(|(s, _)| s == 404 || s == 409) => {}
            Err(e) => {
                return Err(error::engine(
                    Operation::Other,
                    "removing a leftover volume",
                    e,
                ));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_process_is_alive_and_a_missing_one_is_dead() {
        let me = Owner::current().labels();
        assert!(!Owner::is_dead(&me));
        let mut gone = me.clone();
        gone.insert(LABEL_OWNER_PID.to_owned(), u32::MAX.to_string());
        assert!(Owner::is_dead(&gone));
    }

    #[test]
    fn a_reused_pid_with_another_start_time_is_dead() {
        let mut labels = Owner::current().labels();
        labels.insert(LABEL_OWNER_START.to_owned(), "1".to_owned());
        assert!(Owner::is_dead(&labels));
    }

    #[test]
    fn owners_on_other_hosts_are_never_judged() {
        let mut labels = Owner::current().labels();
        labels.insert(LABEL_OWNER_PID.to_owned(), u32::MAX.to_string());
        labels.insert(LABEL_OWNER_HOST.to_owned(), "elsewhere.invalid".to_owned());
        assert!(!Owner::is_dead(&labels));
    }
}
