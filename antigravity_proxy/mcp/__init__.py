"""The built-in vision MCP server (``/mcp/zai-mcp-server/mcp``).

``jsonrpc`` classifies and builds JSON-RPC 2.0 messages (pure), ``sessions``
keeps MCP sessions in the state shared by every worker, ``sources`` turns an
image or video source into a content part under the local-file policy,
``vision`` holds the tools, and ``server`` is the Streamable HTTP transport.
"""
