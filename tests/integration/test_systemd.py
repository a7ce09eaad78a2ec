"""test_systemd.py — what a service manager sees: notify datagrams, the watchdog, -s reload's verdict, the pid file, journald priorities, --probe."""
import os
import signal
import socket
import subprocess
import tempfile
import time

from harness import DETOURD, SANITIZER_ENV, DetourTestCase, free_port, upstream_yaml


def config(up_url, port, extra='', listen=None):
    text = 'server:\n  listen: %s\n  workers: 2\n  drain_timeout: 2s\n' % (listen or '127.0.0.1:%d' % port)
    text += extra + 'upstreams:\n' + upstream_yaml('a', up_url)
    return text + 'models:\n  gpt-4o:\n    targets: [ { upstream: a } ]\n'


class NotifySocket:
    """A datagram socket like systemd's, at an abstract name or a path."""

    def __init__(self, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.address = '@detour-test-%d-%d' % (os.getpid(), id(self))
            self.sock.bind('\0' + self.address[1:])
        else:
            self.dir = tempfile.mkdtemp()
            self.address = os.path.join(self.dir, 'notify')
            self.sock.bind(self.address)
        self.messages = []

    def wait_for(self, word, timeout=10.0):
        """Collects datagrams until one holds the line word; returns that datagram's lines."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            lines = data.split('\n')
            self.messages.append(lines)
            if any(l == word or l.startswith(word) for l in lines):
                return lines
        raise AssertionError('no %r within %.0f s; got %r' % (word, timeout, self.messages))

    def close(self):
        self.sock.close()
        if not self.address.startswith('@'):
            os.unlink(self.address)
            os.rmdir(self.dir)


class Daemon:
    """A detourd started by hand, so its environment and stderr are the test's own."""

    def __init__(self, test, text, env=None, stderr_path=None):
        self.config = tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False)
        self.config.write(text)
        self.config.close()
        self.log_path = stderr_path or tempfile.mktemp(suffix='.log')
        full = dict(os.environ)
        full.update(SANITIZER_ENV)
        for k in ('NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'JOURNAL_STREAM', 'MAINPID'):
            full.pop(k, None)
        full.update(env or {})
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([DETOURD, '-c', self.config.name], stderr=self.log, env=full)
        test.addCleanup(self.stop, test)

    def rewrite(self, text):
        with open(self.config.name, 'w') as f:
            f.write(text)

    def output(self):
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def stop(self, test=None):
        if self.log.closed:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        out = self.output()
        os.unlink(self.config.name)
        if os.path.exists(self.log_path):
            os.unlink(self.log_path)
        if test is not None:
            test.assertEqual(self.proc.returncode, 0, out[-3000:])
            test.assertNotIn('Sanitizer', out)


def run(*args, env=None):
    full = dict(os.environ)
    full.update(SANITIZER_ENV)
    full.pop('MAINPID', None)
    full.update(env or {})
    return subprocess.run([DETOURD] + list(args), capture_output=True, text=True, env=full, timeout=90)


class NotifyTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.up = self.mock('a')

    def notify_lifecycle(self, abstract):
        n = NotifySocket(abstract)
        self.addCleanup(n.close)
        port = free_port()
        d = Daemon(self, config(self.up.url, port), env={'NOTIFY_SOCKET': n.address})
        ready = n.wait_for('READY=1')
        # READY=1 comes once the workers listen: a connection succeeds at once.
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
        status = [l for l in ready if l.startswith('STATUS=')]
        self.assertEqual(status, ['STATUS=listening on 127.0.0.1:%d, generation 1, ok' % port])

        d.proc.send_signal(signal.SIGHUP)
        reloading = n.wait_for('RELOADING=1')
        self.assertTrue(any(l.startswith('MONOTONIC_USEC=') and int(l.split('=')[1]) > 0 for l in reloading),
                        reloading)
        again = n.wait_for('READY=1')
        self.assertIn('STATUS=listening on 127.0.0.1:%d, generation 2, ok' % port, again)

        d.proc.send_signal(signal.SIGTERM)
        n.wait_for('STOPPING=1')
        d.stop(self)

    def test_ready_status_reloading_and_stopping_on_an_abstract_socket(self):
        self.notify_lifecycle(abstract=True)

    def test_the_same_on_a_socket_file(self):
        self.notify_lifecycle(abstract=False)

    def test_status_says_degraded(self):
        n = NotifySocket(True)
        self.addCleanup(n.close)
        port = free_port()
        Daemon(self, config(self.up.url, port, extra='degradation:\n  mode: reduced\n'),
               env={'NOTIFY_SOCKET': n.address})
        ready = n.wait_for('READY=1')
        self.assertIn('STATUS=listening on 127.0.0.1:%d, generation 1, degraded' % port, ready)

    def test_the_watchdog_is_pinged_while_workers_turn(self):
        n = NotifySocket(True)
        self.addCleanup(n.close)
        port = free_port()
        d = Daemon(self, config(self.up.url, port),
                   env={'NOTIFY_SOCKET': n.address, 'WATCHDOG_USEC': '300000'})
        n.wait_for('READY=1')
        for _ in range(3):
            n.wait_for('WATCHDOG=1', timeout=5)
        d.stop(self)

    def test_a_watchdog_meant_for_another_process_is_left_alone(self):
        n = NotifySocket(True)
        self.addCleanup(n.close)
        port = free_port()
        Daemon(self, config(self.up.url, port),
               env={'NOTIFY_SOCKET': n.address, 'WATCHDOG_USEC': '300000', 'WATCHDOG_PID': '1'})
        ready = n.wait_for('READY=1')
        self.assertNotIn('WATCHDOG=1', ready)
        with self.assertRaises(AssertionError):
            n.wait_for('WATCHDOG=1', timeout=1.5)


class ReloadCommandTest(DetourTestCase):

    def setUp(self):
        super().setUp()
        self.up = self.mock('a')
        self.dir = tempfile.mkdtemp()
        self.pid_file = os.path.join(self.dir, 'detourd.pid')
        self.addCleanup(os.rmdir, self.dir)

    def start(self, port, extra=''):
        d = Daemon(self, config(self.up.url, port, extra='  pid_file: %s\n' % self.pid_file + extra))
        deadline = time.monotonic() + 10
        while not os.path.exists(self.pid_file) and time.monotonic() < deadline:
            time.sleep(0.02)
        return d

    def test_the_pid_file_lives_as_long_as_the_daemon(self):
        d = self.start(free_port())
        with open(self.pid_file) as f:
            self.assertEqual(f.read(), '%d\n' % d.proc.pid)
        d.stop(self)
        self.assertFalse(os.path.exists(self.pid_file))

    def test_a_good_file_reloads_and_exits_0(self):
        port = free_port()
        d = self.start(port)
        r = run('-s', 'reload', '-c', d.config.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('reloaded %s' % d.config.name, r.stdout)

    def test_a_refused_file_exits_1_with_the_reason(self):
        port = free_port()
        d = self.start(port)
        # The new variable is in this shell's environment, not in the daemon's.
        d.rewrite(config(self.up.url, port, extra='  pid_file: %s\nauth:\n  admin_token_env: DETOUR_TEST_NEW_TOKEN\n'
                         % self.pid_file))
        r = run('-s', 'reload', '-c', d.config.name, env={'DETOUR_TEST_NEW_TOKEN': 'x' * 20})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('reload refused', r.stderr)
        self.assertIn('DETOUR_TEST_NEW_TOKEN is not set', r.stderr)

    def test_a_taken_listen_address_is_refused(self):
        port = free_port()
        d = self.start(port)
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            s.listen()
            taken = s.getsockname()[1]
            d.rewrite(config(self.up.url, taken, extra='  pid_file: %s\n' % self.pid_file))
            r = run('-s', 'reload', '-c', d.config.name)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('cannot listen on 127.0.0.1:%d' % taken, r.stderr)

    def test_mainpid_wins_over_the_pid_file(self):
        port = free_port()
        d = Daemon(self, config(self.up.url, port))
        deadline = time.monotonic() + 10
        while 'listening on' not in d.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        d.rewrite('upstreams: [\n')
        r = run('-s', 'reload', '-c', '/nonexistent.yaml', env={'MAINPID': str(d.proc.pid)})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('reload refused', r.stderr)
        self.assertIn(d.config.name + ':', r.stderr)

    def test_no_daemon_to_find(self):
        path = tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False)
        path.write(config(self.up.url, free_port()))
        path.close()
        self.addCleanup(os.unlink, path.name)
        r = run('-s', 'reload', '-c', path.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn('pid_file', r.stderr)
        self.assertEqual(run('-s', 'restart').returncode, 2)


class JournalTest(DetourTestCase):

    def test_lines_carry_their_syslog_priority_under_journald(self):
        up = self.mock('a')
        port = free_port()
        log_path = tempfile.mktemp(suffix='.log')
        with open(log_path, 'wb') as f:
            st = os.fstat(f.fileno())
        d = Daemon(self, config(up.url, port), env={'JOURNAL_STREAM': '%d:%d' % (st.st_dev, st.st_ino)},
                   stderr_path=log_path)
        deadline = time.monotonic() + 10
        while 'listening on' not in d.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        d.rewrite('upstreams: [\n')
        d.proc.send_signal(signal.SIGHUP)
        while 'reload refused' not in d.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        lines = d.output().splitlines()
        self.assertTrue(any(l.startswith('<6>level=info msg="detourd ') for l in lines), lines)
        self.assertTrue(any(l.startswith('<3>level=error msg="reload refused') for l in lines), lines)
        self.assertTrue(all(l.startswith('<') for l in lines), lines)     # no timestamp of our own

    def test_a_stream_journald_does_not_hold_keeps_timestamps(self):
        up = self.mock('a')
        d = Daemon(self, config(up.url, free_port()), env={'JOURNAL_STREAM': '1:2'})
        deadline = time.monotonic() + 10
        while 'listening on' not in d.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        line = [l for l in d.output().splitlines() if 'listening on' in l][0]
        self.assertRegex(line, r'^ts=\d{4}-\d\d-\d\dT\S+ level=info msg="detourd ')


class ProbeTest(DetourTestCase):

    def test_probe_asks_the_address_in_the_file(self):
        up = self.mock('a')
        port = free_port()
        d = Daemon(self, config(up.url, port, listen='0.0.0.0:%d' % port))
        deadline = time.monotonic() + 10
        while 'listening on' not in d.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        r = run('--probe', '-c', d.config.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('alive', r.stdout)
        d.stop(self)
        path = tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False)
        path.write(config(up.url, port))
        path.close()
        self.addCleanup(os.unlink, path.name)
        r = run('--probe', '-c', path.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn('port %d' % port, r.stderr)
