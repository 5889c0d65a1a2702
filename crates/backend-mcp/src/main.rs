//! `agent-backend`: the MCP server (`serve`) and a one-shot tool runner (`call`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use backend_mcp::{Config, McpServer, http, open, toolset};
use clap::ArgAction;
use clap::{Args, Parser, Subcommand};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// A filesystem and a sandbox for AI agents, over MCP.
#[derive(Debug, Parser)]
#[command(name = "agent-backend", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the tools over MCP (stdio unless --http is given).
    Serve {
        /// Serve streamable HTTP on this address (such as 127.0.0.1:8080) at /mcp, instead of stdio.
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
        /// Accept this name in the HTTP Host header besides the loopback ones (repeatable).
        #[arg(long = "allow-host", value_name = "HOST")]
        allow_hosts: Vec<String>,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Run one tool call and print its result (for scripts).
    Call {
        /// The tool: ls, read_file, write_file, edit_file, delete, glob, grep, execute.
        tool: String,
        /// The arguments as a JSON object, such as '{"pattern":"TODO"}'.
        #[arg(default_value = "{}")]
        arguments: String,
        /// Print the structured JSON result instead of the text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Print the tool definitions (names, descriptions, JSON Schemas) as JSON.
    Tools {
        #[command(flatten)]
        backend: BackendArgs,
    },
}

#[derive(Debug, Args)]
struct BackendArgs {
    /// Where files live: file://PATH or a plain path (a directory, created if missing), state:// (memory), docker://IMAGE (a container, which also runs commands), ... Default: file://./workspace.
    #[arg(long, value_name = "URL")]
    backend: Option<String>,
    /// What runs commands: `local` (the host, in the backend's directory; not isolation) or a sandbox location such as docker://python:3.12-slim (which then holds the files too). Without one there is no execute tool.
    #[arg(long, value_name = "URL")]
    sandbox: Option<String>,
    /// A TOML config file (backend, sandbox, limits, permissions); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Offer only ls, read_file, glob and grep.
    #[arg(long)]
    read_only: bool,
    /// Declare output schemas and send each result's JSON as MCP structuredContent besides the text (Claude Code then shows the model the JSON instead of the text).
    #[arg(long)]
    structured_content: bool,
    /// Let write_file and edit_file change files this session has not read (on by default: they fail with `conflict`).
    #[arg(long)]
    no_read_before_write: bool,
    /// Log as JSON lines (to stderr).
    #[arg(long)]
    log_json: bool,
    /// Log more on stderr: -v info (each tool call), -vv debug, -vvv trace. Default: warnings and errors only. RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count)]
    verbose: u8,
}

impl BackendArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(backend) = &self.backend {
            config.backend = Some(serde_json::Value::String(backend.clone()));
        }
        if let Some(sandbox) = &self.sandbox {
            config.sandbox = Some(sandbox.clone());
        }
        config.read_only |= self.read_only;
        config.structured_content |= self.structured_content;
        if self.no_read_before_write {
            config.read_before_write = Some(false);
        }
        Ok(config)
    }
}

/// Logs on stderr: warnings by default, since clients such as Claude Code
/// report every stderr line of a stdio server as an error.
fn init_logs(args: &BackendArgs) {
    let json = args.log_json;
    let level = match args.verbose {
        0 => "warn",
        1 => "info,rmcp=warn",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("agent-backend: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("agent-backend: {error:#}");
            ExitCode::from(2)
        }
    };
    // Standard input is read by a blocking thread that nothing can interrupt;
    // do not wait for it after a signal ended a stdio session (clients such
    // as Claude Code send SIGTERM 100 ms after SIGINT). Everything that needs
    // cleaning up was closed inside `run`.
    runtime.shutdown_background();
    code
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            http,
            allow_hosts,
            backend,
        } => {
            init_logs(&backend);
            let config = backend.config()?;
            let opened = open(config.backend.as_ref(), config.sandbox.as_deref()).await?;
            let server = backend_mcp::server(&opened, &config)?;
            let tools: Vec<&str> = server.toolset().tools().iter().map(|t| t.name).collect();
            tracing::info!(backend = %opened.description, tools = ?tools, "starting");
            let served = match http {
                None => serve_stdio(server).await,
                Some(addr) => serve_http(server, &addr, &config, allow_hosts).await,
            };
            // Containers and remote sandboxes are released however serving ended.
            if let Err(error) = opened.close().await {
                tracing::warn!(%error, "closing the sandbox failed");
            }
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            tool,
            arguments,
            json,
            backend,
        } => {
            init_logs(&backend);
            let config = backend.config()?;
            let arguments: serde_json::Value = serde_json::from_str(&arguments)
                .with_context(|| format!("the arguments are not valid JSON: {arguments}"))?;
            let opened = open(config.backend.as_ref(), config.sandbox.as_deref()).await?;
            // One call is no session: nothing was read before it.
            let output = toolset(&opened, &config)?
                .read_before_write(false)
                .call(&tool, &arguments)
                .await;
            opened.close().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&output.structured)?);
            } else {
                print!("{}", output.text);
                if !output.text.ends_with('\n') {
                    println!();
                }
            }
            Ok(if output.is_error {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Tools { backend } => {
            init_logs(&backend);
            let config = backend.config()?;
            // Listing opens nothing: no directory is created, nothing starts.
            let spec = backend_mcp::resolve(config.backend.as_ref(), config.sandbox.as_deref())?;
            let execute = backend_mcp::runs_commands(&spec);
            let tools: Vec<serde_json::Value> =
                backend_tools::offered_tools(execute, &config.permissions()?)
                    .into_iter()
                    .map(|t| {
                        let mut tool = serde_json::json!({
                            "name": t.name,
                            "description": t.description,
                            "input_schema": t.input_schema,
                        });
                        if config.structured_content {
                            tool["output_schema"] = t.output_schema;
                        }
                        tool
                    })
                    .collect();
            println!("{}", serde_json::to_string_pretty(&tools)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve_stdio(server: McpServer) -> anyhow::Result<()> {
    let running = tokio::select! {
        running = server.serve(rmcp::transport::stdio()) => {
            running.context("the MCP session over stdio did not start")?
        }
        () = shutdown_signal() => {
            tracing::info!("signal received before a client connected, shutting down");
            return Ok(());
        }
    };
    let stop = running.cancellation_token();
    tokio::select! {
        reason = running.waiting() => tracing::info!(?reason, "stdio session ended"),
        () = shutdown_signal() => {
            tracing::info!("signal received, shutting down");
            stop.cancel();
        }
    }
    Ok(())
}

async fn serve_http(
    server: McpServer,
    addr: &str,
    config: &Config,
    allow_hosts: Vec<String>,
) -> anyhow::Result<()> {
    let (listener, local) = http::bind(addr).await?;
    let mut hosts = config.http.allowed_hosts.clone();
    hosts.extend(allow_hosts);
    // A fixed line on stderr that scripts (and the tests) wait for.
    eprintln!(
        "agent-backend: MCP over HTTP at http://{local}{}",
        http::MCP_PATH
    );
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("signal received, shutting down");
        on_signal.cancel();
    });
    http::serve_http(server, listener, &hosts, shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
