import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * The official MCP Python SDK (`mcp` from PyPI) as a client, from the venv
 * scripts/setup-mcp-python.sh installs under ~/.cache/flowplane (CI exports its python as
 * FLOWPLANE_MCP_PYTHON).
 */
export const MCP_PYTHON_VERSION = "1.30.0";

function pythonPath(env: Readonly<Record<string, string | undefined>>): string {
  return env.FLOWPLANE_MCP_PYTHON || join(homedir(), ".cache", "flowplane", `mcp-python-${MCP_PYTHON_VERSION}`, "bin", "python");
}

/** A reason to skip where the SDK is not installed, or false; never skips in CI. */
export function mcpPythonSkipReason(env: Readonly<Record<string, string | undefined>>): string | false {
  if (env.CI === "true" || existsSync(pythonPath(env))) return false;
  return `the MCP Python SDK is not installed at ${pythonPath(env)}: run scripts/setup-mcp-python.sh`;
}

const SCRIPT = `
import asyncio, json, os, sys
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

async def main():
    url, headers = sys.argv[1], json.loads(os.environ["MCP_TEST_HEADERS"])
    async with streamablehttp_client(url, headers=headers) as (read, write, _):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = [t.name for t in (await session.list_tools()).tools]
            ok = await session.call_tool("memory_chatbot", {"input_value": "from python"})
            failed = await session.call_tool("memory_chatbot", {"input_value": "[[fail]]"})
            print(json.dumps({
                "server": init.serverInfo.name,
                "tools": tools,
                "ok": {"isError": ok.isError, "text": ok.content[0].text},
                "failed": {"isError": failed.isError, "text": failed.content[0].text},
            }))

asyncio.run(main())
`;

export interface PythonClientResult {
  server: string;
  tools: string[];
  ok: { isError: boolean; text: string };
  failed: { isError: boolean; text: string };
}

/** Runs the SDK's client against `url`; the headers (a key) travel in the environment, never in argv. */
export async function runPythonClient(url: string, headers: Record<string, string>): Promise<PythonClientResult> {
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", MCP_TEST_HEADERS: JSON.stringify(headers) };
  const { stdout } = await promisify(execFile)(pythonPath(process.env), ["-c", SCRIPT, url], { timeout: 120_000, env });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as PythonClientResult;
}
