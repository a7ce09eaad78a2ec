"""test_cli.py — detourd's command line: -t checks a file, --help and --version, and errors name FILE:LINE:COL."""
import os
import subprocess
import tempfile
import unittest

from harness import DETOURD, ROOT, SANITIZER_ENV


def run(*args, env=None):
    full = dict(os.environ)
    full.update(SANITIZER_ENV)
    full.update(env or {})
    return subprocess.run([DETOURD] + list(args), capture_output=True, text=True, env=full, timeout=20)


def write(text):
    f = tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False)
    f.write(text)
    f.close()
    return f.name


class CommandLineTest(unittest.TestCase):

    def test_demo_configuration_is_valid(self):
        r = run('-t', '-c', os.path.join(ROOT, 'conf', 'demo.yaml'))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('is valid', r.stdout)

    def test_documented_example_is_valid_with_its_keys_set(self):
        env = {k: 'sk-test-%s' % k for k in ('OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GROQ_API_KEY',
                                              'DETOUR_ADMIN_TOKEN')}
        with open(os.path.join(ROOT, 'conf', 'detour.yaml')) as f:
            example = f.read()
        # The example names /etc paths; point the client keys file at a real one.
        keys = write('client-key\n')
        self.addCleanup(os.unlink, keys)
        example = example.replace('/etc/detour/client-keys', keys)
        path = write(example)
        self.addCleanup(os.unlink, path)
        r = run('-t', '-c', path, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_file_is_rejected_with_file_line_column(self):
        path = write('upstreams:\n  a:\n    base_url: http://127.0.0.1:1/v1\n'
                     '    timeouts: { connect: 2x }\nmodels:\n  m:\n    targets: [ { upstream: a } ]\n')
        self.addCleanup(os.unlink, path)
        r = run('-t', '-c', path)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r'^%s:4:\d+: .*upstreams\.a\.timeouts\.connect.*"2x" is not a duration'
                         % path.replace('.', r'\.'))

    def test_unset_key_variable_is_rejected_without_leaking_anything(self):
        path = write('upstreams:\n  a:\n    base_url: http://127.0.0.1:1/v1\n    api_key_env: DETOUR_TEST_UNSET\n'
                     'models:\n  m:\n    targets: [ { upstream: a } ]\n')
        self.addCleanup(os.unlink, path)
        env = dict(os.environ, **SANITIZER_ENV)    # a sanitizer report must not pass for the expected exit 1
        env.pop('DETOUR_TEST_UNSET', None)
        r = subprocess.run([DETOURD, '-t', '-c', path], capture_output=True, text=True, env=env, timeout=20)
        self.assertEqual(r.returncode, 1)
        self.assertIn('DETOUR_TEST_UNSET', r.stderr)
        self.assertIn(':4:', r.stderr)

    def test_missing_file(self):
        r = run('-t', '-c', '/nonexistent/detour.yaml')
        self.assertEqual(r.returncode, 1)
        self.assertIn('/nonexistent/detour.yaml', r.stderr)

    def test_help_and_version(self):
        r = run('--help')
        self.assertEqual(r.returncode, 0)
        self.assertIn('usage: detourd', r.stdout)
        r = run('--version')
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r'^detourd \d+\.\d+\.\d+')
        r = run('--no-such-flag')
        self.assertEqual(r.returncode, 2)

    def test_port_in_use_is_refused(self):
        import socket
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            s.listen()
            port = s.getsockname()[1]
            path = write('server:\n  listen: 127.0.0.1:%d\nupstreams:\n  a:\n    base_url: http://127.0.0.1:1/v1\n'
                         'models:\n  m:\n    targets: [ { upstream: a } ]\n' % port)
            self.addCleanup(os.unlink, path)
            r = run('-c', path)
        self.assertEqual(r.returncode, 1)
        self.assertIn('cannot listen on 127.0.0.1:%d' % port, r.stderr)


    def check(self, text, env=None):
        path = write(text)
        self.addCleanup(os.unlink, path)
        r = run('-t', '-c', path, env=env)
        return r, path

    def test_cryptic_yaml_messages_get_a_hint(self):
        models = 'upstreams:\n  a: { base_url: "http://127.0.0.1:1/v1" }\nmodels:\n'
        r, _ = self.check('server:\n\tlisten: 127.0.0.1:8080\n' + models + '  m: { targets: [ { upstream: a } ] }\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn(':2:1: ', r.stderr)
        self.assertIn('a tab: YAML indents with spaces only', r.stderr)
        r, _ = self.check(models + '  *:\n    targets: [ { upstream: a } ]\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn('quote a literal one, as in "*"', r.stderr)
        r, _ = self.check('server:\n  listen: [::1]:8080\n' + models + '  m: { targets: [ { upstream: a } ] }\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn('an IPv6 address must be quoted, as in listen: "[::1]:8080"', r.stderr)

    def test_a_missing_client_keys_file_is_named(self):
        r, _ = self.check('auth:\n  client_keys_file: /nonexistent/detour-client-keys\n'
                          'upstreams:\n  a: { base_url: "http://127.0.0.1:1/v1" }\n'
                          'models:\n  m: { targets: [ { upstream: a } ] }\n')
        self.assertEqual(r.returncode, 1)
        self.assertIn('auth.client_keys_file: cannot read the client keys file "/nonexistent/detour-client-keys"',
                      r.stderr)

    def test_secrets_come_from_systemd_credentials(self):
        text = ('auth:\n  client_keys_file: credential:client-keys\n  admin_token_file: credential:admin\n'
                'upstreams:\n  a: { base_url: "http://127.0.0.1:1/v1", api_key_file: "credential:openai" }\n'
                'models:\n  m: { targets: [ { upstream: a } ] }\n')
        r, _ = self.check(text, env={'CREDENTIALS_DIRECTORY': ''})
        self.assertEqual(r.returncode, 1)
        self.assertIn('$CREDENTIALS_DIRECTORY is not set', r.stderr)
        with tempfile.TemporaryDirectory() as creds:
            for name, value in (('client-keys', 'client-key-1\n'), ('admin', 'admin-token-x\n'),
                                ('openai', 'sk-test\n')):
                with open(os.path.join(creds, name), 'w') as f:
                    f.write(value)
                os.chmod(os.path.join(creds, name), 0o600)
            r, _ = self.check(text, env={'CREDENTIALS_DIRECTORY': creds})
            self.assertEqual(r.returncode, 0, r.stderr)
            r, _ = self.check(text.replace('credential:openai', 'credential:../openai'),
                              env={'CREDENTIALS_DIRECTORY': creds})
            self.assertEqual(r.returncode, 1)
            self.assertIn('needs the name of a credential', r.stderr)


if __name__ == '__main__':
    unittest.main()
