"""streams.py — an asyncio SSE client for the benchmark: many concurrent streams, time to first content chunk."""
import asyncio
import json
import time

REQUEST = json.dumps({'model': 'gpt-4o', 'stream': True,
                      'messages': [{'role': 'user', 'content': 'Tell me a story.'}]}).encode()


async def one_stream(port, started_event=None):
    """Opens one streaming chat completion on a fresh connection. Returns (seconds to the first
    content chunk, whole stream ok) — ok means [DONE] arrived and no error event."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    writer.write(b'POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n'
                 b'Content-Length: %d\r\nConnection: close\r\n\r\n' % len(REQUEST) + REQUEST)
    await writer.drain()
    first = None
    ok = False
    buf = b''
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            buf += data
            if first is None and _has_content(buf):
                first = time.perf_counter() - t0
                if started_event is not None:
                    started_event()
            if b'data: [DONE]' in buf:
                ok = b'"error"' not in buf
                break
            if len(buf) > 1 << 20:
                buf = buf[-4096:]
    finally:
        writer.close()
    return first, ok


def _has_content(buf):
    for line in buf.split(b'\n'):
        if line.startswith(b'data: {') and b'"delta":{"content":"' in line:
            return True
    return False


async def many(port, n, on_first=None):
    return await asyncio.gather(*(one_stream(port, on_first) for _ in range(n)), return_exceptions=True)


def run_concurrent(port, n):
    """n streams at once; returns (ok count, error count, seconds)."""
    t0 = time.perf_counter()
    results = asyncio.run(many(port, n))
    ok = sum(1 for r in results if not isinstance(r, BaseException) and r[1])
    return ok, n - ok, time.perf_counter() - t0


def time_to_first_chunk(port, n):
    """n streams one after another; returns the list of seconds to the first content chunk."""
    async def seq():
        out = []
        for _ in range(n):
            first, ok = await one_stream(port)
            if first is not None and ok:
                out.append(first)
        return out
    return asyncio.run(seq())
