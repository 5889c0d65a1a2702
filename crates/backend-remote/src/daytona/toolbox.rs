//! The toolbox of one Daytona sandbox: files and session commands.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backend_core::{ErrorKind, Result};
use serde::Deserialize;
use serde_json::json;

use super::api::Api;
use crate::http::client::{HttpClient, Repeat};
use crate::http::timestamp::parse_rfc3339;
use crate::sandbox::remote::{Entry, RawEvent, Remote, Running};
use crate::sandbox::shell::quote;
use crate::secret::ApiKey;

#[derive(Debug)]
pub(crate) struct Toolbox {
    pub(crate) client: HttpClient,
    /// `{toolboxProxyUrl}/{sandboxId}`.
    pub(crate) base: String,
    pub(crate) api_key: ApiKey,
    pub(crate) poll_interval: Duration,
    pub(crate) api: Arc<Api>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileInfoDto {
    name: String,
    is_dir: bool,
    size: u64,
    #[serde(default)]
    modified_at: Option<String>,
}

impl FileInfoDto {
    fn entry(self) -> Entry {
        Entry {
            name: self.name,
            is_dir: self.is_dir,
            is_symlink: false,
            size: self.size,
            modified: self.modified_at.as_deref().and_then(parse_rfc3339),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecResponse {
    cmd_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandDto {
    #[serde(default)]
    exit_code: Option<i32>,
}

#[derive(Deserialize)]
struct LogsDto {
    stdout: String,
    stderr: String,
}

/// The toolbox calls a running command needs after it started.
#[derive(Clone)]
struct Session {
    client: HttpClient,
    base: String,
    api_key: ApiKey,
    id: String,
}

impl Session {
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
    ) -> Result<T> {
        let url = format!("{}/process/session/{}/{path}", self.base, self.id);
        let response = self
            .client
            .send(call, Repeat::Idempotent, |http| {
                http.get(&url)
                    .bearer_auth(self.api_key.expose())
                    .header("Accept", "application/json")
            })
            .await?;
        self.client.read_json(call, response).await
    }

    /// Deletes the session, which ends every process in it.
    async fn delete(&self) {
        let url = format!("{}/process/session/{}", self.base, self.id);
        let outcome = self
            .client
            .send("delete session", Repeat::Idempotent, |http| {
                http.delete(&url).bearer_auth(self.api_key.expose())
            })
            .await;
        if let Err(e) = outcome
            && e.kind() != ErrorKind::FileNotFound
        {
            tracing::warn!(error = %e, session = %self.id, "could not delete a Daytona session");
        }
    }
}

impl Toolbox {
    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }
}

#[async_trait]
impl Remote for Toolbox {
    fn provider(&self) -> &'static str {
        "Daytona"
    }

    fn sandbox_id(&self) -> &str {
        &self.api.sandbox_id
    }

    fn streams_output(&self) -> bool {
        false
    }

    async fn start(&self, line: String, _timeout: Duration) -> Result<Running> {
        // A session of its own per command: its output stays apart, and
        // deleting the session kills the command at its deadline.
        let session = Session {
            client: self.client.clone(),
            base: self.base.clone(),
            api_key: self.api_key.clone(),
            id: format!("backend-remote-{}", uuid::Uuid::new_v4()),
        };
        let create_url = self.url("process/session");
        let body = json!({ "sessionId": session.id });
        self.client
            .post_json(
                "create session",
                Repeat::Throttled,
                &create_url,
                &self.api_key,
                &body,
            )
            .await?;
        let exec_url = format!("{}/process/session/{}/exec", self.base, session.id);
        // The session shell must survive: run the line in a child shell.
        let body = json!({ "command": format!("sh -c {}", quote(&line)), "runAsync": true });
        let started = self
            .client
            .post_json(
                "execute command",
                Repeat::Never,
                &exec_url,
                &self.api_key,
                &body,
            )
            .await;
        let exec: ExecResponse = match started {
            Ok(response) => match self.client.read_json("execute command", response).await {
                Ok(exec) => exec,
                Err(e) => {
                    session.delete().await;
                    return Err(e);
                }
            },
            Err(e) => {
                session.delete().await;
                return Err(e);
            }
        };
        let poll = self.poll_interval;
        let watcher = session.clone();
        let cmd_id = exec.cmd_id;
        let outcome = async move {
            let exit_code = loop {
                let command: CommandDto = watcher
                    .get_json("get command", &format!("command/{cmd_id}"))
                    .await?;
                if let Some(code) = command.exit_code {
                    break code;
                }
                tokio::time::sleep(poll).await;
            };
            let logs: LogsDto = watcher
                .get_json("get command logs", &format!("command/{cmd_id}/logs"))
                .await?;
            watcher.delete().await;
            Ok(RawEvent::exited(
                logs.stdout.into_bytes(),
                logs.stderr.into_bytes(),
                Some(exit_code),
            ))
        };
        Ok(Running::reported_at_exit(outcome, move || async move {
            session.delete().await
        }))
    }

    async fn read_file(&self, abs: &str) -> Result<Vec<u8>> {
        let url = self.url("files/download");
        self.client
            .download_file(|http| {
                http.get(&url)
                    .bearer_auth(self.api_key.expose())
                    .query(&[("path", abs)])
            })
            .await
    }

    async fn write_file(&self, abs: &str, content: Vec<u8>) -> Result<()> {
        let url = self.url("files/bulk-upload");
        self.client
            .upload_file(
                abs,
                content,
                Some("files[0].path"),
                "files[0].file",
                |http| http.post(&url).bearer_auth(self.api_key.expose()),
            )
            .await
    }

    async fn stat(&self, abs: &str) -> Result<Option<Entry>> {
        let url = self.url("files/info");
        let outcome = self
            .client
            .send("file info", Repeat::Idempotent, |http| {
                http.get(&url)
                    .bearer_auth(self.api_key.expose())
                    .query(&[("path", abs)])
            })
            .await;
        match outcome {
            Ok(response) => {
                let dto: FileInfoDto = self.client.read_json("file info", response).await?;
                Ok(Some(dto.entry()))
            }
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_dir(&self, abs: &str) -> Result<Vec<Entry>> {
        let url = self.url("files");
        let response = self
            .client
            .send("list files", Repeat::Idempotent, |http| {
                http.get(&url)
                    .bearer_auth(self.api_key.expose())
                    .query(&[("path", abs)])
            })
            .await?;
        let list: Vec<FileInfoDto> = self.client.read_json("list files", response).await?;
        Ok(list.into_iter().map(FileInfoDto::entry).collect())
    }

    async fn make_dir(&self, abs: &str) -> Result<()> {
        let url = self.url("files/folder");
        self.client
            .send("create folder", Repeat::Idempotent, |http| {
                http.post(&url)
                    .bearer_auth(self.api_key.expose())
                    .query(&[("path", abs), ("mode", "755")])
            })
            .await
            .map(drop)
    }

    async fn remove(&self, abs: &str) -> Result<()> {
        let url = self.url("files");
        match self
            .client
            .send("delete file", Repeat::Idempotent, |http| {
                http.delete(&url)
                    .bearer_auth(self.api_key.expose())
                    .query(&[("path", abs), ("recursive", "true")])
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn destroy(&self) -> Result<()> {
        self.api.delete().await
    }
}
