// Drives the agent-backend MCP server with the official TypeScript MCP SDK
// over stdio, with structuredContent on: the SDK client validates every
// successful result's structuredContent against the tool's outputSchema and
// throws when it does not match.
//
// Usage: node ts_client.cjs NODE_MODULES CWD BINARY [SERVER ARGS...]
// Prints one JSON object per line; exits 1 with "CHECK FAILED: ..." when a
// check fails.

const { createRequire } = require("node:module");
const path = require("node:path");

const [nodeModules, cwd, binary, ...serverArgs] = process.argv.slice(2);
const load = createRequire(path.join(nodeModules, "index.js"));
const { Client } = load("@modelcontextprotocol/sdk/client/index.js");
const { StdioClientTransport } = load("@modelcontextprotocol/sdk/client/stdio.js");

function check(condition, message) {
  if (!condition) throw new Error(`CHECK FAILED: ${message}`);
}

function textOf(result) {
  return result.content.filter((b) => b.type === "text").map((b) => b.text).join("");
}

async function main() {
  const transport = new StdioClientTransport({ command: binary, args: ["serve", ...serverArgs], cwd, stderr: "inherit" });
  const client = new Client({ name: "ts-sdk-test", version: "0" });
  await client.connect(transport);
  const { tools } = await client.listTools();
  for (const tool of tools) {
    check(tool.outputSchema && tool.outputSchema.type === "object", `${tool.name} has no outputSchema`);
  }
  const calls = [
    ["write_file", { file_path: "/src/app.py", content: "def main():\n    print('hi')  # TODO\n" }],
    ["read_file", { file_path: "/src/app.py", limit: 1 }],
    ["read_file", { file_path: "/src/app.py" }],
    ["edit_file", { file_path: "/src/app.py", old_string: "'hi'", new_string: "'hello'" }],
    ["ls", { path: "/" }],
    ["glob", { pattern: "**/*.py" }],
    ["grep", { pattern: "TODO" }],
    ["grep", { pattern: "TODO", output_mode: "content", context: 1 }],
    ["grep", { pattern: "o", output_mode: "count" }],
    ["execute", { command: "echo out; echo err >&2; exit 4" }],
    ["delete", { file_path: "/src", recursive: true }],
  ];
  const called = new Set();
  for (const [name, args] of calls) {
    const result = await client.callTool({ name, arguments: args });
    check(!result.isError, `${name} failed: ${textOf(result)}`);
    check(result.structuredContent, `${name} returned no structuredContent`);
    check(textOf(result).length > 0, `${name} returned no text`);
    called.add(name);
    console.log(JSON.stringify({ kind: "call", tool: name, text: textOf(result) }));
  }
  for (const tool of tools) check(called.has(tool.name), `${tool.name} was not called`);
  const failed = await client.callTool({ name: "read_file", arguments: { file_path: "/missing" } });
  check(failed.isError && textOf(failed).startsWith("Error [file_not_found]"), `error result ${JSON.stringify(failed)}`);
  await client.close();
  console.log(JSON.stringify({ kind: "done", tools: tools.length }));
}

main().catch((error) => {
  console.error(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
