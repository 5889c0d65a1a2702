//! `execute`.

use std::time::Duration;

use backend_core::{Error, ExecRequest, Operation};
use serde_json::json;

use crate::args::Args;
use crate::output::{Budget, ToolOutput, cut_line};
use crate::permissions::Access;
use crate::specs::ToolName;
use crate::toolset::Toolset;

impl Toolset {
    pub(crate) async fn execute(&self, args: &Args) -> Result<ToolOutput, Error> {
        let sandbox = self
            .handle
            .sandbox()
            .ok_or_else(|| self.unknown_tool("execute"))?;
        let command = args.required_str("command")?;
        let decision = self.permissions.check_command(command);
        self.permit(ToolName::Execute, Access::Execute, command, decision)
            .await?;
        let timeout = args
            .usize("timeout")
            .map_or(backend_core::exec::DEFAULT_EXEC_TIMEOUT, |s| {
                Duration::from_secs(s as u64)
            });
        let request = ExecRequest::new(command).timeout(timeout);
        request
            .validate()
            .map_err(|e| e.or_operation(Operation::Execute))?;
        let output = sandbox.execute(request).await?;
        let status = output.status;

        let mut header = match (status.exit_code, status.signal) {
            (Some(code), _) => format!("Exit code: {code}"),
            (None, Some(signal)) => format!("Killed by signal {signal}"),
            (None, None) => "Exit status unknown".to_owned(),
        };
        header.push_str(&format!(" ({:.2} s)", status.duration.as_secs_f64()));
        let mut budget = Budget::new(self.limits.max_output_chars);
        budget.push(&header);
        let stdout = output.stdout_text();
        let stderr = output.stderr_text();
        // The JSON holds the lines the text shows, so it is capped alike.
        let mut shown = [String::new(), String::new()];
        for (i, (name, stream)) in [("stdout", &stdout), ("stderr", &stderr)]
            .into_iter()
            .enumerate()
        {
            if stream.is_empty() || !budget.push(&format!("--- {name} ---")) {
                continue;
            }
            for raw in stream.split_inclusive('\n') {
                let line = raw.strip_suffix('\n').unwrap_or(raw);
                let line = line.strip_suffix('\r').unwrap_or(line);
                let (cut, was_cut) = cut_line(line, self.limits.max_line_chars);
                if !budget.push(&cut) {
                    break;
                }
                if was_cut {
                    shown[i].push_str(&cut);
                    shown[i].push_str(&raw[line.len()..]);
                } else {
                    shown[i].push_str(raw);
                }
            }
        }
        let [shown_stdout, shown_stderr] = shown;
        let cut = budget.is_full();
        let mut text = budget.into_text();
        if stdout.is_empty() && stderr.is_empty() {
            text.push_str("(no output)\n");
        }
        if status.timed_out {
            text.push_str(&format!(
                "[The command timed out after {} s and was killed; output so far is shown.]\n",
                timeout.as_secs()
            ));
        }
        if status.stdout_truncated || status.stderr_truncated {
            text.push_str(
                "[The command's output passed the sandbox's cap; the rest was dropped.]\n",
            );
        }
        if cut {
            text.push_str(&format!(
                "[Output cut at {} characters; redirect output to a file and read it with read_file or grep.]\n",
                self.limits.max_output_chars
            ));
        }
        let structured = json!({
            "command": command,
            "exit_code": status.exit_code,
            "signal": status.signal,
            "timed_out": status.timed_out,
            "stdout": shown_stdout,
            "stderr": shown_stderr,
            "stdout_truncated": status.stdout_truncated,
            "stderr_truncated": status.stderr_truncated,
            "output_cut": cut,
            "duration_ms": u64::try_from(status.duration.as_millis()).unwrap_or(u64::MAX),
        });
        Ok(ToolOutput::success(text, structured))
    }
}
