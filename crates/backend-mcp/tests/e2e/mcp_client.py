"""Drives the agent-backend MCP server with the official Python MCP SDK.

Usage:
  mcp_client.py stdio CWD BINARY [SERVER ARGS...]   start `BINARY serve ARGS` in CWD over stdio
  mcp_client.py http URL                             connect to a running server (started with --structured-content)
  mcp_client.py http-parallel URL N                  N parallel calls over one HTTP session (likewise)

Runs a scripted session (list the tools, call each one, check the results)
and prints a transcript, one JSON object per line. Any failed check exits
with status 1 and a message saying what differed.
"""

import asyncio
import contextlib
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

FILE_TOOLS = {"ls", "read_file", "write_file", "edit_file", "delete", "glob", "grep"}


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def log(kind, **fields):
    print(json.dumps({"kind": kind, **fields}), flush=True)


def text_of(result):
    return "".join(block.text for block in result.content if block.type == "text")


# Whether the server was started with --structured-content: then every
# successful result carries structuredContent (which the SDK validates against
# the tool's outputSchema), and no result has it otherwise.
STRUCTURED = {"on": False}


async def call(session, name, arguments, expect_error=False):
    result = await session.call_tool(name, arguments)
    text = text_of(result)
    log("call", tool=name, arguments=arguments, is_error=bool(result.is_error), text=text)
    check(
        bool(result.is_error) == expect_error,
        f"{name}({arguments}) isError={result.is_error}, expected {expect_error}: {text}",
    )
    expected = STRUCTURED["on"] and not expect_error
    check(
        (result.structured_content is not None) == expected,
        f"{name} structuredContent {result.structured_content!r}, expected {'some' if expected else 'none'}",
    )
    return text, (result.structured_content or {})


def check_data(condition, message):
    """A check of structuredContent (a function of nothing), made only when it is sent."""
    if STRUCTURED["on"]:
        check(condition(), message)


async def scripted_session(session, expect_execute):
    init = await session.initialize()
    log("initialize", server=init.server_info.name, version=init.server_info.version)
    check(init.server_info.name == "agent-backend", f"server name {init.server_info.name}")

    listed = await session.list_tools()
    names = {tool.name for tool in listed.tools}
    log("list_tools", tools=[{"name": t.name, "required": t.input_schema.get("required", [])} for t in listed.tools])
    expected = FILE_TOOLS | ({"execute"} if expect_execute else set())
    check(names == expected, f"tools {sorted(names)}, expected {sorted(expected)}")
    for tool in listed.tools:
        check(tool.description, f"{tool.name} has no description")
        check(tool.input_schema.get("type") == "object", f"{tool.name} schema is not an object")
        has_output_schema = tool.output_schema is not None
        check(has_output_schema == STRUCTURED["on"], f"{tool.name} outputSchema {tool.output_schema!r}")
    check(all(name in (init.instructions or "") for name in names), f"instructions miss a tool: {init.instructions!r}")

    text, data = await call(session, "write_file", {"file_path": "/src/app.py", "content": "def main():\n    print('hi')  # TODO\n"})
    check_data(lambda: data["bytes_written"] == 36, f"write_file structured {data}")

    text, data = await call(session, "read_file", {"file_path": "/src/app.py"})
    check(text == "     1\tdef main():\n     2\t    print('hi')  # TODO\n", f"read_file text {text!r}")
    check_data(lambda: data["total_lines"] == 2, f"read_file structured {data}")

    text, _ = await call(session, "read_file", {"file_path": "/src/app.py", "offset": 0, "limit": 1})
    check("offset=1" in text, f"no paging hint in {text!r}")

    text, data = await call(session, "edit_file", {"file_path": "/src/app.py", "old_string": "'hi'", "new_string": "'hello'"})
    check_data(lambda: data["replacements"] == 1, f"edit_file structured {data}")

    text, data = await call(session, "ls", {"path": "/"})
    check(text == "/src/\n", f"ls text {text!r}")

    text, data = await call(session, "glob", {"pattern": "**/*.py"})
    check_data(lambda: data["files"] == ["/src/app.py"], f"glob structured {data}")

    text, data = await call(session, "grep", {"pattern": "TODO", "output_mode": "content"})
    check(text == "/src/app.py:2:    print('hello')  # TODO\n", f"grep text {text!r}")

    text, data = await call(session, "grep", {"pattern": "todo", "case_insensitive": True, "output_mode": "count"})
    check_data(lambda: data["counts"] == [{"path": "/src/app.py", "count": 1}], f"grep count {data}")

    if expect_execute:
        text, data = await call(session, "execute", {"command": "grep -c hello src/app.py; echo err >&2"})
        check_data(lambda: data["exit_code"] == 0, f"execute structured {data}")
        check_data(lambda: data["stdout"] == "1\n" and data["stderr"] == "err\n", f"execute output {data}")

    text, _ = await call(session, "read_file", {"file_path": "/missing.txt"}, expect_error=True)
    check(text.startswith("Error [file_not_found]: "), f"error text {text!r}")

    text, _ = await call(session, "edit_file", {"file_path": "/src/app.py", "old_string": "x"}, expect_error=True)
    check(text.startswith("Error [invalid_argument]: ") and "`new_string`" in text, f"validation text {text!r}")

    text, _ = await call(session, "delete", {"file_path": "/src", "recursive": True})
    check(text == "Deleted /src\n", f"delete text {text!r}")
    text, _ = await call(session, "ls", {})
    check(text == "/ is empty\n", f"ls after delete {text!r}")


async def parallel_session(session, count):
    await session.initialize()
    writes = [
        session.call_tool("write_file", {"file_path": f"/p/{i}.txt", "content": f"value {i}\n"})
        for i in range(count)
    ]
    results = await asyncio.gather(*writes)
    failed = [text_of(r) for r in results if r.is_error]
    check(not failed, f"{len(failed)} parallel writes failed: {failed[:3]}")

    reads = [session.call_tool("read_file", {"file_path": f"/p/{i}.txt"}) for i in range(count)]
    results = await asyncio.gather(*reads)
    for i, result in enumerate(results):
        check(text_of(result) == f"     1\tvalue {i}\n", f"parallel read {i} gave {text_of(result)!r}")

    mixed = []
    for i in range(count):
        if i % 3 == 0:
            mixed.append(session.call_tool("grep", {"pattern": f"value {i}", "path": "/p", "output_mode": "count"}))
        elif i % 3 == 1:
            mixed.append(session.call_tool("edit_file", {"file_path": f"/p/{i}.txt", "old_string": "value", "new_string": "edited"}))
        else:
            mixed.append(session.call_tool("glob", {"pattern": f"{i}.txt", "path": "/p"}))
    results = await asyncio.gather(*mixed)
    for i, result in enumerate(results):
        text = text_of(result)
        check(not result.is_error, f"mixed call {i} failed: {text}")
        if i % 3 == 0:
            check(text.startswith(f"/p/{i}.txt:1\n"), f"mixed grep {i}: {text!r}")
        elif i % 3 == 1:
            check(text == f"Replaced 1 occurrence in /p/{i}.txt\n", f"mixed edit {i}: {text!r}")
        else:
            check(text == f"/p/{i}.txt\n", f"mixed glob {i}: {text!r}")
    listed = await session.call_tool("ls", {"path": "/p"})
    check(len(listed.structured_content["entries"]) == count, "not every parallel write landed")
    log("parallel", calls=3 * count + 1, ok=True)


async def main(argv):
    mode = argv[1]
    async with contextlib.AsyncExitStack() as stack:
        if mode == "stdio":
            cwd, binary, server_args = argv[2], argv[3], argv[4:]
            params = StdioServerParameters(command=binary, args=["serve", *server_args], cwd=cwd)
            streams = await stack.enter_async_context(stdio_client(params))
            expect_execute = "--sandbox" in server_args
            STRUCTURED["on"] = "--structured-content" in server_args
        else:
            # The HTTP servers of the tests run with --structured-content.
            streams = await stack.enter_async_context(streamable_http_client(argv[2]))
            expect_execute = False
            STRUCTURED["on"] = True
        session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
        if mode == "http-parallel":
            await parallel_session(session, int(argv[3]))
        else:
            await scripted_session(session, expect_execute)
    log("done", mode=mode)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv))
    except BaseException as error:  # the SDK wraps failures in exception groups
        failures = []
        pending = [error]
        while pending:
            e = pending.pop()
            if isinstance(e, CheckFailed):
                failures.append(str(e))
            pending.extend(getattr(e, "exceptions", []))
        if not failures:
            raise
        for failure in failures:
            print(f"CHECK FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
