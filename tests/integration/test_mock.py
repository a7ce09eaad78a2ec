"""detour-mock on its own: answers, streams, every fault, counting, runtime control and Anthropic mode.

Runs the real binary from $DETOUR_BUILD (default: build) on loopback ports it picks itself.
Every test stops by itself within a few seconds, and every mock is stopped with
SIGTERM afterwards: it must exit 0 with no sanitizer report on stderr, so the
same file checks the ASan/UBSan build (DETOUR_BUILD=build/sanitize).
Python 3 standard library only.
"""

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("DETOUR_BUILD", os.path.join(ROOT, "build"))
MOCK = os.path.join(BUILD, "detour-mock")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:")
CHAT = "/v1/chat/completions"


def chat_body(stream=False, **extra):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "What is the weather in Paris?"}]}
    if stream:
        body["stream"] = True
    body.update(extra)
    return body


class Mock:
    """One detour-mock process on a free port.

    The mock binds port 0 and its banner says which port it got: a port picked
    here and bound there could be taken in between by any other process on the
    machine, and the test would then talk to a stranger."""

    def __init__(self, *args):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([MOCK, "--listen", "127.0.0.1:0"] + list(args),
                                     stdout=subprocess.PIPE, stderr=self.stderr)
        self.banner = self._read_banner(timeout=10)
        self.port = int(self.banner.rsplit(":", 1)[1])
        self._wait_for_port(timeout=5)
        self.control = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)

    def _read_banner(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        banner = self.proc.stdout.readline().decode() if ready else ""
        if " listening on 127.0.0.1:" not in banner:
            self.proc.kill()
            self.proc.wait()
            self.stderr.seek(0)
            raise AssertionError("detour-mock did not start: %r %s" % (banner, self.stderr.read().decode()))
        return banner

    def _wait_for_port(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def connect(self, timeout=5):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=5):
        """One request on a fresh connection: (status, headers, body bytes)."""
        conn = self.connect(timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=dict(headers or {}))
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def post(self, path, body, headers=None, timeout=5):
        status, hdrs, data = self.request("POST", path, body, headers, timeout)
        return status, hdrs, json.loads(data)

    def _control(self, method, path, body=None):
        # one kept-alive connection, so polling the stats opens and closes no connection of its own
        data = None if body is None else json.dumps(body).encode()
        self.control.request(method, path, body=data)
        resp = self.control.getresponse()
        return resp.status, json.loads(resp.read())

    def stats(self):
        return self._control("GET", "/_mock/stats")[1]

    def set_faults(self, faults):
        status, body = self._control("POST", "/_mock/faults", faults)
        assert status == 200, body
        return body

    def reset(self):
        return self._control("POST", "/_mock/reset", {})

    def stop(self):
        """SIGTERM; returns (exit status, stderr text)."""
        self.control.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = "did not exit within 10 s of SIGTERM"
        self.proc.stdout.close()
        self.stderr.seek(0)
        err = self.stderr.read().decode(errors="replace")
        self.stderr.close()
        return code, err


def read_sse(resp):
    """Reads a stream until it ends or breaks: (events as (name, data) pairs, the exception that ended it or None)."""
    events, name, error = [], None, None
    try:
        while True:
            line = resp.readline()
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((name, line[len("data: "):]))
                name = None
    except (ConnectionError, http.client.IncompleteRead, socket.timeout, ValueError) as e:
        error = e
    return events, error


def openai_content(events):
    """The text an OpenAI stream carried, and how many content chunks carried it."""
    pieces = []
    for _, data in events:
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        for choice in chunk.get("choices", []):
            piece = choice.get("delta", {}).get("content")
            if piece:
                pieces.append(piece)
    return "".join(pieces), len(pieces)


class MockTestCase(unittest.TestCase):
    """Starts mocks on demand; stops them after the test and checks they exited cleanly."""

    def setUp(self):
        self.mocks = []

    def start(self, *args):
        mock = Mock(*args)
        self.mocks.append(mock)
        return mock

    def tearDown(self):
        for mock in self.mocks:
            code, err = mock.stop()
            self.assertEqual(code, 0, "detour-mock exit status after SIGTERM; stderr:\n" + err)
            for mark in SANITIZER_MARKS:
                self.assertNotIn(mark, err, "sanitizer report on detour-mock's stderr:\n" + err)

    def stream(self, mock, path=CHAT, body=None, headers=None, timeout=5):
        conn = mock.connect(timeout)
        conn.request("POST", path, body=json.dumps(body or chat_body(stream=True)).encode(),
                     headers=dict(headers or {}))
        resp = conn.getresponse()
        resp.hang_up = lambda: (resp.close(), conn.close())   # both hold the socket open
        self.addCleanup(resp.hang_up)
        return resp

    def wait_for(self, mock, predicate, within):
        deadline = time.monotonic() + within
        while True:
            stats = mock.stats()
            if predicate(stats) or time.monotonic() > deadline:
                return stats
            time.sleep(0.02)


class OpenAIAnswers(MockTestCase):
    def test_plain_completion_has_the_openai_shape(self):
        mock = self.start("--name", "primary")
        self.assertEqual(mock.banner, "detour-mock primary listening on 127.0.0.1:%d\n" % mock.port)
        status, headers, body = mock.post(CHAT, chat_body())
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertTrue(body["id"].startswith("chatcmpl-mock-"))
        self.assertEqual(body["object"], "chat.completion")
        self.assertIsInstance(body["created"], int)
        self.assertEqual(body["model"], "gpt-4o")
        choice = body["choices"][0]
        self.assertEqual(choice["index"], 0)
        self.assertEqual(choice["message"], {"role": "assistant", "content": "Hello from primary."})
        self.assertEqual(choice["finish_reason"], "stop")
        usage = body["usage"]
        self.assertEqual(usage["total_tokens"], usage["prompt_tokens"] + usage["completion_tokens"])

    def test_tools_get_a_tool_call_until_a_tool_result_comes_back(self):
        mock = self.start()
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
        _, _, body = mock.post(CHAT, chat_body(tools=tools))
        message = body["choices"][0]["message"]
        self.assertIsNone(message["content"])
        self.assertEqual(body["choices"][0]["finish_reason"], "tool_calls")
        call = message["tool_calls"][0]
        self.assertEqual((call["id"], call["type"], call["function"]["name"]), ("call_mock_1", "function", "get_weather"))
        self.assertEqual(json.loads(call["function"]["arguments"]), {"city": "Paris"})

        messages = chat_body()["messages"] + [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_mock_1", "content": "sunny"}]
        _, _, body = mock.post(CHAT, {"model": "gpt-4o", "messages": messages, "tools": tools})
        self.assertEqual(body["choices"][0]["finish_reason"], "stop")
        self.assertEqual(body["choices"][0]["message"]["content"], "Hello from mock.")

    def test_stream_sends_role_then_content_chunks_then_usage_and_done(self):
        mock = self.start("--content", "The quick brown fox jumps.")
        resp = self.stream(mock, body=chat_body(stream=True, stream_options={"include_usage": True}))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers["Content-Type"], "text/event-stream")
        events, error = read_sse(resp)
        self.assertIsNone(error)
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [json.loads(data) for _, data in events[:-1]]
        self.assertTrue(all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-4o" for c in chunks))
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        text, pieces = openai_content(events)
        self.assertEqual(text, "The quick brown fox jumps.")
        self.assertEqual(pieces, 5)
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "stop")
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertIn("total_tokens", chunks[-1]["usage"])

    def test_stream_tool_call_arguments_arrive_in_pieces(self):
        mock = self.start("--chunks", "1")
        tools = [{"type": "function", "function": {"name": "get_weather"}}]
        events, error = read_sse(self.stream(mock, body=chat_body(stream=True, tools=tools)))
        self.assertIsNone(error)
        chunks = [json.loads(data) for _, data in events if data != "[DONE]"]
        first = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
        self.assertEqual((first["id"], first["function"]["name"]), ("call_mock_1", "get_weather"))
        pieces = [c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                  for c in chunks[1:] if c["choices"][0]["delta"].get("tool_calls")]
        self.assertGreaterEqual(len(pieces), 2)
        self.assertEqual(json.loads("".join(pieces)), {"city": "Paris"})
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "tool_calls")

    def test_completions_embeddings_and_models_have_their_shapes(self):
        mock = self.start("--models", "alpha,beta")
        _, _, body = mock.post("/v1/completions", {"model": "davinci", "prompt": "Say hi"})
        self.assertEqual(body["object"], "text_completion")
        self.assertEqual(body["choices"][0]["text"], "Hello from mock.")
        events, error = read_sse(self.stream(mock, "/v1/completions", {"model": "davinci", "prompt": "x", "stream": True}))
        self.assertIsNone(error)
        self.assertEqual(events[-1][1], "[DONE]")
        self.assertEqual("".join(json.loads(d)["choices"][0]["text"] for _, d in events[:-1]), "Hello from mock.")

        _, _, body = mock.post("/v1/embeddings", {"model": "embed", "input": "hello"})
        self.assertEqual(body["object"], "list")
        self.assertEqual(body["data"], [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}])
        self.assertEqual(body["usage"], {"prompt_tokens": 1, "total_tokens": 1})

        status, _, data = mock.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        body = json.loads(data)
        self.assertEqual(body["object"], "list")
        self.assertEqual([m["id"] for m in body["data"]], ["alpha", "beta"])
        self.assertTrue(all(m["object"] == "model" and m["owned_by"] == "detour-mock" for m in body["data"]))

    def test_invalid_requests_are_400_invalid_request_error(self):
        mock = self.start()
        for body in ({"messages": []}, {"model": "m"}, {"model": "m", "messages": "hi"}, b"{not json"):
            status, _, data = mock.request("POST", CHAT, body)
            self.assertEqual(status, 400, body)
            error = json.loads(data)["error"]
            self.assertEqual(error["type"], "invalid_request_error")
            self.assertIn("message", error)
            self.assertIn("param", error)
            self.assertIsNone(error["code"])

    def test_deeply_nested_json_is_refused_not_crashed_on(self):
        mock = self.start()
        status, _, data = mock.request("POST", CHAT, b"[" * 200000 + b"]" * 200000)
        self.assertEqual(status, 400)
        self.assertIn("nested", json.loads(data)["error"]["message"])
        self.assertEqual(mock.stats()["requests"], 1)   # and the log shows it as a raw string

    def test_unknown_path_is_404_in_openai_shape(self):
        mock = self.start()
        status, _, data = mock.request("GET", "/v1/nothing-here")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(data)["error"]["type"], "invalid_request_error")

    def test_api_key_is_required_when_set(self):
        mock = self.start("--api-key", "sk-test")
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            status, _, data = mock.request("POST", CHAT, chat_body(), headers)
            self.assertEqual(status, 401)
            error = json.loads(data)["error"]
            self.assertEqual((error["type"], error["code"]), ("invalid_request_error", "invalid_api_key"))
            self.assertNotIn("sk-test", data.decode())
        status, _, _ = mock.request("POST", CHAT, chat_body(), {"Authorization": "Bearer sk-test"})
        self.assertEqual(status, 200)

    def test_body_over_16_mib_is_413_before_it_is_sent(self):
        mock = self.start()
        with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as s:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 17000000\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 413"))

    def test_chunked_body_over_16_mib_is_413_at_its_end(self):
        mock = self.start()
        conn = mock.connect(timeout=10)
        piece = b"x" * (1 << 20)
        conn.request("POST", CHAT, body=(piece for _ in range(17)), encode_chunked=True)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 413)
        self.assertEqual(json.loads(resp.read())["error"]["type"], "invalid_request_error")
        conn.close()
        self.assertEqual(mock.stats()["aborted"], 0)


class Faults(MockTestCase):
    def test_status_fault_answers_with_retry_after_on_every_path(self):
        mock = self.start("--name", "primary")
        shown = mock.set_faults({"status": 503, "retry_after": 2, "retry_after_ms": 1500})
        self.assertEqual(shown, {"status": 503, "retry_after": "2", "retry_after_ms": 1500})
        for method, path, body in (("POST", CHAT, chat_body()), ("GET", "/v1/models", None)):
            status, headers, data = mock.request(method, path, body)
            self.assertEqual(status, 503)
            self.assertEqual(headers["Retry-After"], "2")
            self.assertEqual(headers["retry-after-ms"], "1500")
            error = json.loads(data)["error"]
            self.assertEqual(error["message"], "detour-mock primary: injected status 503")
            self.assertEqual(error["type"], "server_error")

    def test_status_429_is_rate_limit_shaped(self):
        mock = self.start("--status", "429")
        status, _, data = mock.request("POST", CHAT, chat_body())
        self.assertEqual(status, 429)
        self.assertIn("rate_limit", json.loads(data)["error"]["type"])

    def test_latency_delays_the_response_headers(self):
        mock = self.start()
        mock.set_faults({"latency_ms": "300ms"})
        started = time.monotonic()
        status, _, _ = mock.request("POST", CHAT, chat_body())
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.29)

    def test_hang_notices_the_client_leaving_at_once(self):
        mock = self.start()
        mock.set_faults({"hang": True})
        # only the control connection left open (the start-up port probe's close may still be on its way)
        before = self.wait_for(mock, lambda s: s["open_connections"] == 1, within=1.0)
        client = socket.create_connection(("127.0.0.1", mock.port), timeout=5)
        client.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        client.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            client.recv(1)   # no answer: it hangs
        self.assertEqual(mock.stats()["in_flight"], 1)
        left = time.monotonic()
        client.close()
        after = self.wait_for(mock, lambda s: s["aborted"] == before["aborted"] + 1 and s["open_connections"] == 1,
                              within=1.0)
        self.assertEqual(after["aborted"], before["aborted"] + 1)
        self.assertEqual(after["connections_closed"], before["connections_closed"] + 1)
        self.assertEqual(after["in_flight"], 0)
        self.assertLess(time.monotonic() - left, 1.0)
        self.assertLessEqual(after["last_abort_ms"], after["now_ms"])
        self.assertLess(after["now_ms"] - after["last_close_ms"], 1000)

    def test_reset_sends_part_of_the_body_then_an_rst(self):
        mock = self.start()
        mock.set_faults({"reset": True})
        with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as s:
            s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
            received, error = b"", None
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        break
                    received += data
            except ConnectionResetError as e:
                error = e
        self.assertIsInstance(error, ConnectionResetError)
        head, _, body = received.partition(b"\r\n\r\n")
        length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
        self.assertTrue(0 < len(body) < length, (len(body), length))

    def test_malformed_answers_200_with_truncated_json(self):
        mock = self.start()
        mock.set_faults({"malformed": True})
        status, _, data = mock.request("POST", CHAT, chat_body())
        self.assertEqual(status, 200)
        self.assertTrue(data.startswith(b'{"id":"chatcmpl-mock-'))
        with self.assertRaises(ValueError):
            json.loads(data)

    def test_cut_after_resets_the_stream_without_done(self):
        mock = self.start()
        mock.set_faults({"cut_after": 2})
        events, error = read_sse(self.stream(mock))
        self.assertIsNotNone(error)
        self.assertEqual(openai_content(events)[1], 2)
        self.assertNotIn("[DONE]", [data for _, data in events])
        stats = self.wait_for(mock, lambda s: s["in_flight"] == 0, within=1.0)
        self.assertEqual(stats["aborted"], 0, "a cut made by the mock is no client abort")

    def test_stall_after_goes_silent_but_keeps_the_connection(self):
        mock = self.start()
        mock.set_faults({"stall_after": 2})
        resp = self.stream(mock, timeout=0.5)
        events, error = read_sse(resp)
        self.assertIsInstance(error, socket.timeout, (events, mock.stats()))
        self.assertEqual(openai_content(events)[1], 2)
        self.assertEqual(mock.stats()["in_flight"], 1)
        resp.hang_up()
        stats = self.wait_for(mock, lambda s: s["aborted"] == 1, within=1.0)
        self.assertEqual((stats["aborted"], stats["in_flight"]), (1, 0))

    def test_stream_error_after_sends_an_error_event_and_ends(self):
        mock = self.start()
        mock.set_faults({"stream_error_after": 1})
        events, error = read_sse(self.stream(mock))
        self.assertIsNone(error, "the stream ends cleanly after the error event")
        self.assertEqual(openai_content(events[:-1])[1], 1)
        self.assertEqual(json.loads(events[-1][1])["error"]["type"], "server_error")
        self.assertNotIn("[DONE]", [data for _, data in events])

    def test_malformed_stream_carries_an_event_of_broken_json(self):
        mock = self.start()
        mock.set_faults({"malformed": True})
        events, _ = read_sse(self.stream(mock))
        self.assertEqual(json.loads(events[0][1])["choices"][0]["delta"]["role"], "assistant")
        with self.assertRaises(ValueError):
            json.loads(events[1][1])
        self.assertNotIn("[DONE]", [data for _, data in events])

    def test_reset_in_a_stream_comes_after_the_first_event(self):
        mock = self.start()
        mock.set_faults({"reset": True})
        events, error = read_sse(self.stream(mock))
        self.assertIsNotNone(error)
        self.assertEqual(len(events), 1)

    def test_chunks_and_chunk_delay_pace_the_stream(self):
        mock = self.start()
        mock.set_faults({"chunks": 3, "chunk_delay_ms": 100, "content": "one two three"})
        resp = self.stream(mock)
        arrivals = []
        while True:
            line = resp.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                arrivals.append(time.monotonic())
        # role, 3 pieces, finish, [DONE]: 6 events, 5 pauses
        self.assertEqual(len(arrivals), 6)
        # The whole span, not each gap: a late read can bunch two events together.
        self.assertGreaterEqual(arrivals[-1] - arrivals[0], 0.45)

    def test_client_leaving_a_slow_stream_is_counted_at_once(self):
        mock = self.start()
        mock.set_faults({"chunk_delay_ms": 2000})
        resp = self.stream(mock)
        resp.readline()
        resp.hang_up()
        stats = self.wait_for(mock, lambda s: s["aborted"] == 1, within=1.0)
        self.assertEqual(stats["aborted"], 1)

    def test_fail_rate_one_fails_every_request(self):
        mock = self.start()
        mock.set_faults({"fail_rate": 1.0, "fail_status": 502})
        for _ in range(5):
            status, _, data = mock.request("POST", CHAT, chat_body())
            self.assertEqual(status, 502)
            self.assertEqual(json.loads(data)["error"]["type"], "server_error")

    def test_fail_rate_draws_the_same_requests_for_the_same_seed(self):
        patterns = []
        for _ in range(2):
            mock = self.start("--seed", "7", "--fail-rate", "0.5")
            patterns.append([mock.request("GET", "/v1/models")[0] for _ in range(16)])
        self.assertEqual(patterns[0], patterns[1])
        self.assertEqual(set(patterns[0]), {200, 500})

    def test_times_limits_the_faults_to_the_next_n_requests(self):
        mock = self.start()
        self.assertEqual(mock.set_faults({"status": 503, "times": 2}), {"status": 503, "times": 2, "remaining": 2})
        statuses = [mock.request("GET", "/v1/models")[0] for _ in range(3)]
        self.assertEqual(statuses, [503, 503, 200])
        self.assertEqual(mock._control("GET", "/_mock/faults")[1], {})

    def test_faults_given_on_the_command_line_are_in_force_from_the_start(self):
        mock = self.start("--status", "500", "--times", "1", "--latency", "50ms")
        started = time.monotonic()
        self.assertEqual(mock.request("POST", CHAT, chat_body())[0], 500)
        self.assertGreaterEqual(time.monotonic() - started, 0.045)
        self.assertEqual(mock.request("POST", CHAT, chat_body())[0], 200)

    def test_posting_faults_replaces_the_whole_set(self):
        mock = self.start()
        mock.set_faults({"status": 500, "content": "x"})
        self.assertEqual(mock.set_faults({"content": "Patched."}), {"content": "Patched."})
        status, _, body = mock.post(CHAT, chat_body())
        self.assertEqual(status, 200)
        self.assertEqual(body["choices"][0]["message"]["content"], "Patched.")

    def test_a_bad_fault_set_is_refused_naming_the_key(self):
        mock = self.start()
        for faults, word in (({"stauts": 503}, "stauts"), ({"status": "503"}, "status"),
                             ({"fail_rate": 2}, "fail_rate"), ({"latency_ms": "soon"}, "latency_ms")):
            status, body = mock._control("POST", "/_mock/faults", faults)
            self.assertEqual(status, 400)
            self.assertIn(word, body["error"]["message"])
        self.assertEqual(mock._control("GET", "/_mock/faults")[1], {})


class Counting(MockTestCase):
    def test_requests_are_counted_by_path_and_control_calls_are_not(self):
        mock = self.start()
        mock.post(CHAT, chat_body())
        mock.post(CHAT, chat_body())
        mock.request("GET", "/v1/models")
        mock.set_faults({})
        # a connection's close reaches the mock a moment after the client's
        stats = self.wait_for(mock, lambda s: s["open_connections"] == 1, within=1.0)
        self.assertEqual(stats["requests"], 3)
        self.assertEqual(stats["by_path"], {CHAT: 2, "/v1/models": 1})
        self.assertEqual(stats["in_flight"], 0)
        self.assertEqual(stats["aborted"], 0)
        self.assertIsNone(stats["last_abort_ms"])
        self.assertEqual(stats["open_connections"], 1)   # the control connection asking

    def test_last_request_and_log_show_what_was_received_and_when(self):
        mock = self.start()
        started_ms = time.monotonic() * 1000
        mock.post(CHAT, chat_body(), {"X-Trace": "abc", "Authorization": "Bearer k"})
        mock.request("POST", "/v1/embeddings", b"not json")
        stats = mock.stats()
        last = stats["last_request"]
        self.assertEqual((last["method"], last["path"], last["body"]), ("POST", "/v1/embeddings", "not json"))
        log = stats["requests_log"]
        self.assertEqual([e["path"] for e in log], [CHAT, "/v1/embeddings"])
        self.assertEqual(log[0]["body"], chat_body())
        self.assertLessEqual(log[0]["ms"], log[1]["ms"])
        self.assertLessEqual(abs(log[0]["ms"] - started_ms), 2000, "ms is CLOCK_MONOTONIC like time.monotonic()")
        mock.post(CHAT, chat_body(), {"X-Trace": "abc"})
        self.assertEqual(mock.stats()["last_request"]["headers"]["x-trace"], "abc")

    def test_log_keeps_the_last_50_requests(self):
        mock = self.start()
        for i in range(55):
            mock.request("GET", "/v1/models?i=%d" % i)
        log = mock.stats()["requests_log"]
        self.assertEqual(len(log), 50)

    def test_reset_zeroes_counters_but_keeps_the_faults(self):
        mock = self.start()
        mock.set_faults({"status": 503})
        mock.request("GET", "/v1/models")
        self.assertEqual(mock.reset()[0], 200)
        stats = mock.stats()
        self.assertEqual((stats["requests"], stats["by_path"], stats["last_request"], stats["requests_log"]),
                         (0, {}, None, []))
        self.assertEqual(mock.request("GET", "/v1/models")[0], 503)

    def test_many_slow_streams_are_served_at_once(self):
        mock = self.start()
        mock.set_faults({"chunk_delay_ms": 50})
        results = []

        def one():
            conn = mock.connect(timeout=10)
            try:
                conn.request("POST", CHAT, body=json.dumps(chat_body(stream=True)).encode())
                events, error = read_sse(conn.getresponse())
                results.append(error is None and events[-1][1] == "[DONE]")
            finally:
                conn.close()

        threads = [threading.Thread(target=one) for _ in range(200)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        self.assertEqual(results.count(True), 200)
        self.assertLess(time.monotonic() - started, 10, "streams are served side by side, not one after another")

    def test_sigterm_ends_hung_and_stalled_connections(self):
        mock = self.start()
        mock.set_faults({"hang": True, "times": 1})
        hung = socket.create_connection(("127.0.0.1", mock.port), timeout=5)
        hung.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        mock.set_faults({"stall_after": 1})
        resp = self.stream(mock)
        resp.readline()
        self.wait_for(mock, lambda s: s["in_flight"] == 2, within=1.0)
        started = time.monotonic()
        code, err = mock.stop()
        self.mocks.remove(mock)
        hung.close()
        self.assertEqual(code, 0, err)
        self.assertLess(time.monotonic() - started, 3)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, err)


ANTHROPIC_HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def messages_body(**extra):
    body = {"model": "claude-3-5-haiku-latest", "max_tokens": 64,
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}]}
    body.update(extra)
    return body


class AnthropicMode(MockTestCase):
    def setUp(self):
        super().setUp()
        self.mock = self.start("--mode", "anthropic", "--api-key", "sk-ant-test", "--name", "claude")

    def call(self, body, headers=ANTHROPIC_HEADERS):
        return self.mock.request("POST", "/v1/messages", body, headers)

    def assert_invalid(self, body, words):
        status, _, data = self.call(body)
        self.assertEqual(status, 400, data)
        error = json.loads(data)
        self.assertEqual(error["type"], "error")
        self.assertEqual(error["error"]["type"], "invalid_request_error")
        self.assertIn(words, error["error"]["message"])

    def test_message_answer_has_the_anthropic_shape(self):
        status, _, data = self.call(messages_body(system=[{"type": "text", "text": "Be brief."}]))
        self.assertEqual(status, 200)
        body = json.loads(data)
        self.assertTrue(body["id"].startswith("msg_mock_"))
        self.assertEqual((body["type"], body["role"], body["model"]), ("message", "assistant", "claude-3-5-haiku-latest"))
        self.assertEqual(body["content"], [{"type": "text", "text": "Hello from claude."}])
        self.assertEqual((body["stop_reason"], body["stop_sequence"]), ("end_turn", None))
        self.assertGreater(body["usage"]["input_tokens"], 0)
        self.assertGreater(body["usage"]["output_tokens"], 0)

    def test_missing_max_tokens_is_refused(self):
        body = messages_body()
        del body["max_tokens"]
        self.assert_invalid(body, "max_tokens")
        self.assert_invalid(messages_body(max_tokens=0), "max_tokens")

    def test_system_role_inside_messages_is_refused(self):
        self.assert_invalid(messages_body(messages=[{"role": "system", "content": "Be brief."},
                                                    {"role": "user", "content": "Hi"}]), "system")

    def test_roles_must_alternate_and_start_with_user(self):
        self.assert_invalid(messages_body(messages=[{"role": "user", "content": "a"},
                                                    {"role": "user", "content": "b"}]), "alternate")
        self.assert_invalid(messages_body(messages=[{"role": "assistant", "content": "a"}]), "first message")
        self.assert_invalid(messages_body(messages=[]), "messages")
        self.assert_invalid(messages_body(messages=[{"role": "user", "content": [{"type": "video"}]}]), "video")

    def test_version_header_and_api_key_are_required(self):
        status, _, data = self.call(messages_body(), {"x-api-key": "sk-ant-test"})
        self.assertEqual(status, 400)
        self.assertIn("anthropic-version", json.loads(data)["error"]["message"])
        status, _, data = self.call(messages_body(), {"x-api-key": "wrong", "anthropic-version": "2023-06-01"})
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(data)["error"]["type"], "authentication_error")

    def test_stream_sends_the_messages_events_in_order(self):
        resp = self.stream(self.mock, "/v1/messages", messages_body(stream=True), ANTHROPIC_HEADERS)
        self.assertEqual(resp.headers["Content-Type"], "text/event-stream")
        events, error = read_sse(resp)
        self.assertIsNone(error)
        names = [name for name, _ in events]
        self.assertEqual(names, ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 5 +
                         ["content_block_stop", "message_delta", "message_stop"])
        datas = [json.loads(data) for _, data in events]
        self.assertTrue(all(d["type"] == n for n, d in zip(names, datas)))
        self.assertEqual("".join(d["delta"]["text"] for d in datas if d["type"] == "content_block_delta"),
                         "Hello from claude.")
        self.assertEqual(datas[-2]["delta"], {"stop_reason": "end_turn", "stop_sequence": None})
        self.assertIn("output_tokens", datas[-2]["usage"])

    def test_tools_get_a_tool_use_block(self):
        tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
        status, _, data = self.call(messages_body(tools=tools))
        body = json.loads(data)
        self.assertEqual(body["stop_reason"], "tool_use")
        self.assertEqual(body["content"], [{"type": "text", "text": "Let me check."},
                                           {"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather",
                                            "input": {"city": "Paris"}}])

        events, error = read_sse(self.stream(self.mock, "/v1/messages", messages_body(stream=True, tools=tools),
                                             ANTHROPIC_HEADERS))
        self.assertIsNone(error)
        datas = [json.loads(data) for _, data in events]
        starts = [d["content_block"] for d in datas if d["type"] == "content_block_start"]
        self.assertEqual(starts[1], {"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather", "input": {}})
        partial = [d["delta"]["partial_json"] for d in datas
                   if d["type"] == "content_block_delta" and d["delta"]["type"] == "input_json_delta"]
        self.assertGreaterEqual(len(partial), 2)
        self.assertEqual(json.loads("".join(partial)), {"city": "Paris"})
        self.assertEqual([d for d in datas if d["type"] == "message_delta"][0]["delta"]["stop_reason"], "tool_use")

        answered = messages_body(tools=tools, messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": body["content"]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_mock_1", "content": "sunny"}]}])
        self.assertEqual(json.loads(self.call(answered)[2])["stop_reason"], "end_turn")

    def test_status_529_is_overloaded_error(self):
        self.mock.set_faults({"status": 529})
        status, _, data = self.call(messages_body())
        self.assertEqual(status, 529)
        self.assertEqual(json.loads(data), {"type": "error", "error": {
            "type": "overloaded_error", "message": "detour-mock claude: injected status 529"}})

    def test_stream_error_after_sends_an_overloaded_error_event(self):
        self.mock.set_faults({"stream_error_after": 2})
        events, error = read_sse(self.stream(self.mock, "/v1/messages", messages_body(stream=True), ANTHROPIC_HEADERS))
        self.assertIsNone(error)
        self.assertEqual([n for n, _ in events].count("content_block_delta"), 2)
        self.assertEqual(events[-1][0], "error")
        self.assertEqual(json.loads(events[-1][1]), {"type": "error", "error": {
            "type": "overloaded_error", "message": "Overloaded"}})

    def test_cut_after_works_in_anthropic_streams(self):
        self.mock.set_faults({"cut_after": 1})
        events, error = read_sse(self.stream(self.mock, "/v1/messages", messages_body(stream=True), ANTHROPIC_HEADERS))
        self.assertIsNotNone(error)
        self.assertEqual([n for n, _ in events].count("content_block_delta"), 1)
        self.assertNotIn("message_stop", [n for n, _ in events])

    def test_models_list_has_the_anthropic_shape(self):
        status, _, data = self.mock.request("GET", "/v1/models", headers=ANTHROPIC_HEADERS)
        self.assertEqual(status, 200)
        body = json.loads(data)
        self.assertEqual(body["data"][0]["type"], "model")
        self.assertEqual(body["data"][0]["id"], "mock-model")
        self.assertIn("display_name", body["data"][0])
        self.assertEqual((body["has_more"], body["first_id"], body["last_id"]), (False, "mock-model", "mock-model"))

    def test_a_forced_tool_gets_an_input_built_from_its_schema_and_no_text(self):
        schema = {"type": "object", "properties": {
            "name": {"type": "string"}, "age": {"type": "integer", "minimum": 18},
            "tags": {"type": "array", "items": {"type": "string"}}, "kind": {"enum": ["cat", "dog"]},
            "note": {"anyOf": [{"type": "null"}, {"type": "string"}]}, "pet": {"$ref": "#/$defs/pet"}},
            "$defs": {"pet": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}}
        tools = [{"name": "other", "input_schema": {"type": "object"}}, {"name": "answer", "input_schema": schema}]
        status, _, data = self.call(messages_body(tools=tools, tool_choice={"type": "tool", "name": "answer"}))
        self.assertEqual(status, 200, data)
        body = json.loads(data)
        self.assertEqual(body["content"], [{"type": "tool_use", "id": "toolu_mock_1", "name": "answer", "input": {
            "name": "mock", "age": 18, "tags": ["mock"], "kind": "cat", "note": None, "pet": {"ok": True}}}])
        self.assertEqual(body["stop_reason"], "tool_use")
        status, _, data = self.call(messages_body(tools=tools, tool_choice={"type": "none"}))
        self.assertEqual(json.loads(data)["content"][0]["type"], "text")

    def test_thinking_cache_tokens_and_many_tool_calls_on_demand(self):
        self.mock.set_faults({"thinking": "Let me think.", "cache_read_tokens": 7, "cache_creation_tokens": 3,
                              "tool_calls": 70})
        tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
        status, _, data = self.call(messages_body(tools=tools))
        body = json.loads(data)
        self.assertEqual(body["content"][0], {"type": "thinking", "thinking": "Let me think.", "signature": "mock-signature"})
        self.assertEqual(body["content"][1], {"type": "text", "text": "Let me check."})
        uses = body["content"][2:]
        self.assertEqual([u["id"] for u in uses], ["toolu_mock_%d" % i for i in range(1, 71)])
        self.assertEqual(body["usage"]["cache_read_input_tokens"], 7)
        self.assertEqual(body["usage"]["cache_creation_input_tokens"], 3)

        resp = self.stream(self.mock, "/v1/messages", messages_body(stream=True, tools=tools), ANTHROPIC_HEADERS)
        events, error = read_sse(resp)
        self.assertIsNone(error)
        data = [json.loads(d) for _, d in events]
        self.assertEqual(data[0]["message"]["usage"]["cache_read_input_tokens"], 7)
        starts = [d["content_block"]["type"] for d in data if d["type"] == "content_block_start"]
        self.assertEqual(starts, ["thinking", "text"] + ["tool_use"] * 70)
        deltas = {d["delta"]["type"] for d in data if d["type"] == "content_block_delta"}
        self.assertEqual(deltas, {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"})
        self.assertEqual(data[-1]["type"], "message_stop")


class AnswerHeaders(MockTestCase):
    def test_configured_headers_go_out_on_every_answer_errors_included(self):
        mock = self.start("--header", "openai-version: 2020-10-01", "--header", "x-request-id:req_abc")
        status, headers, _ = mock.post(CHAT, chat_body())
        self.assertEqual(status, 200)
        self.assertEqual((headers["openai-version"], headers["x-request-id"]), ("2020-10-01", "req_abc"))
        mock.set_faults({"status": 429, "retry_after": 2, "headers": {"x-ratelimit-remaining-requests": "0"}})
        status, headers, _ = mock.post(CHAT, chat_body())
        self.assertEqual((status, headers["x-ratelimit-remaining-requests"], headers["retry-after"]), (429, "0", "2"))
        self.assertIsNone(headers["openai-version"])   # the posted set replaced the command line's

    def test_a_bad_header_is_refused_naming_it(self):
        mock = self.start()
        for bad in ({"headers": {"bad name": "x"}}, {"headers": {"x-a": "line\nbreak"}}, {"headers": ["x"]},
                    {"headers": {"h%d" % i: "v" for i in range(13)}}):
            status, body = mock._control("POST", "/_mock/faults", bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("headers", body["error"]["message"])


if __name__ == "__main__":
    unittest.main()
