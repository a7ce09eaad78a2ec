"""test_packaging.py — the unit file passes systemd-analyze, the Dockerfile keeps its promises, make install lays files out."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, DETOURD, ROOT, SANITIZER_ENV


class ServiceFileTest(unittest.TestCase):

    def read(self, name):
        with open(os.path.join(ROOT, name)) as f:
            return f.read()

    @unittest.skipUnless(shutil.which('systemd-analyze'), 'systemd-analyze is not installed')
    def test_unit_file_passes_systemd_analyze_verify(self):
        unit = self.read('systemd/detour.service').replace('/usr/local/bin/detourd', DETOURD)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'detour.service')
            with open(path, 'w') as f:
                f.write(unit)
            r = subprocess.run(['systemd-analyze', 'verify', path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn('detour.service:', r.stderr)   # no warning about our own lines

    def test_unit_file_runs_unprivileged_and_restarts(self):
        unit = self.read('systemd/detour.service')
        self.assertIn('ExecStart=/usr/local/bin/detourd -c /etc/detour/detour.yaml', unit)
        self.assertIn('DynamicUser=yes', unit)
        self.assertIn('Restart=on-failure', unit)
        self.assertIn('NoNewPrivileges=yes', unit)
        self.assertIn('ProtectSystem=strict', unit)

    def test_unit_file_forbids_core_dumps_that_would_hold_the_keys(self):
        unit = self.read('systemd/detour.service')
        self.assertRegex(unit, r'(?m)^LimitCORE=0$')

    def test_dockerfile_is_multi_stage_non_root_with_a_health_check(self):
        text = self.read('Dockerfile')
        stages = re.findall(r'^FROM (\S+)', text, re.M)
        self.assertEqual(stages, ['debian:bookworm-slim', 'debian:bookworm-slim'])
        self.assertIn('COPY --from=build', text)
        self.assertRegex(text, r'(?m)^USER (?!root|0\b)\S+')
        self.assertRegex(text, r'HEALTHCHECK[^\n]*\n?[^\n]*/health/live')

    @unittest.skipUnless(shutil.which('apt-cache'), 'not a Debian machine')
    def test_dockerfile_runtime_packages_exist_in_debian(self):
        text = self.read('Dockerfile')
        final = text.split('FROM debian:bookworm-slim', 2)[2]
        packages = re.search(r'install -y --no-install-recommends ([^\\&]+)\\\s*\n\s*([^\\&]+)', final)
        names = (packages.group(1) + ' ' + packages.group(2)).split()
        for name in names:
            r = subprocess.run(['apt-cache', 'show', name], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, 'no Debian package %s' % name)

    def test_unit_file_waits_for_readiness_and_gives_up(self):
        unit = self.read('systemd/detour.service')
        self.assertRegex(unit, r'(?m)^Type=notify$')
        self.assertRegex(unit, r'(?m)^WatchdogSec=\d+s$')
        # A port that stays taken ends in "failed", not a restart every 2 s forever.
        self.assertRegex(unit, r'(?m)^StartLimitBurst=\d+$')
        self.assertRegex(unit, r'(?m)^StartLimitIntervalSec=\d+s$')
        self.assertLess(unit.index('StartLimitBurst='), unit.index('[Service]'))
        reloads = re.findall(r'(?m)^ExecReload=(.*)$', unit)
        self.assertEqual(reloads, ['/usr/local/bin/detourd -s reload -c /etc/detour/detour.yaml'])

    def final_stage(self):
        return self.read('Dockerfile').split('FROM debian:bookworm-slim', 2)[2]

    def test_image_holds_detourd_only_and_no_apt_cache(self):
        final = self.final_stage()
        self.assertNotIn('detour-mock', final)
        self.assertNotIn('tests/mock', self.read('Dockerfile'))
        self.assertNotRegex(final, r'install[^\n]*\bcurl\b')
        self.assertIn('apt-get clean', final)
        self.assertIn('rm -rf /var/lib/apt/lists/*', final)
        self.assertRegex(final, r'groupadd [^\n]*detour')
        self.assertRegex(final, r'useradd [^\n]*--gid detour')

    def test_image_health_check_asks_detourd_itself(self):
        final = self.final_stage()
        check = re.search(r'HEALTHCHECK[^\n]*\\\n\s*CMD ([^\n#]*)', final)
        self.assertIsNotNone(check)
        self.assertEqual(check.group(1).split(), ['/usr/local/bin/detourd', '--probe', '-c', '/etc/detour/detour.yaml'])

    def test_image_default_configuration_starts_with_no_environment(self):
        final = self.final_stage()
        self.assertIn('COPY conf/container.yaml /etc/detour/detour.yaml', final)
        r = subprocess.run([DETOURD, '-t', '-c', os.path.join(ROOT, 'conf', 'container.yaml')],
                           capture_output=True, text=True, env=dict(SANITIZER_ENV), timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = self.read('conf/container.yaml')
        self.assertRegex(text, r'(?m)^  listen: 0\.0\.0\.0:8080')
        # docker stop and podman stop send SIGKILL 10 s after SIGTERM.
        drain = int(re.search(r'(?m)^  drain_timeout: (\d+)s', text).group(1))
        self.assertLess(drain + 1, 10)

    @unittest.skipUnless(shutil.which('man'), 'man-db is not installed')
    def test_man_pages_format_without_warnings(self):
        env = dict(os.environ, LC_ALL='C.UTF-8', MANROFFSEQ='', MANWIDTH='80')
        for name in ('detourd.8', 'detour.yaml.5', 'detour-mock.1'):
            path = os.path.join(ROOT, 'docs', 'man', name)
            r = subprocess.run(['man', '--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', path],
                               capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 0, name + r.stderr)
            self.assertEqual(r.stderr, '', name)
            self.assertIn('NAME', subprocess.run(['man', '-l', path], capture_output=True, text=True,
                                                 env=env, timeout=60).stdout)


class InstallTest(unittest.TestCase):

    def make(self, target, dest, *extra):
        r = subprocess.run(['make', '-C', ROOT, target, 'BUILD=%s' % BUILD, 'DESTDIR=%s' % dest,
                            'PREFIX=/opt/detour'] + list(extra), capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_make_uninstall_removes_what_install_put_and_keeps_an_edited_file(self):
        with tempfile.TemporaryDirectory() as dest:
            self.make('install', dest)
            for page in ('man8/detourd.8', 'man5/detour.yaml.5', 'man1/detour-mock.1'):
                self.assertTrue(os.path.exists(os.path.join(dest, 'opt/detour/share/man', page)), page)
            with open(os.path.join(dest, 'etc/detour/detour.yaml'), 'a') as f:
                f.write('# edited\n')
            said = self.make('uninstall', dest)
            left = sorted(os.path.relpath(os.path.join(d, f), dest)
                          for d, _, files in os.walk(dest) for f in files)
            self.assertEqual(left, ['etc/detour/detour.yaml'])
            self.assertIn('kept %s/etc/detour/detour.yaml' % dest, said)
        with tempfile.TemporaryDirectory() as dest:
            self.make('install', dest)
            self.make('uninstall', dest)
            left = [f for _, _, files in os.walk(dest) for f in files]
            self.assertEqual(left, [])
            self.assertFalse(os.path.exists(os.path.join(dest, 'etc/detour')))

    def test_make_install_with_destdir_and_prefix(self):
        with tempfile.TemporaryDirectory() as dest:
            r = subprocess.run(['make', '-C', ROOT, 'install', 'BUILD=%s' % BUILD, 'DESTDIR=%s' % dest,
                                'PREFIX=/opt/detour'], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            for path in ('opt/detour/bin/detourd', 'opt/detour/bin/detour-mock', 'etc/detour/detour.yaml',
                         'etc/detour/demo.yaml', 'opt/detour/lib/systemd/system/detour.service',
                         'opt/detour/share/doc/detour/configuration.md'):
                self.assertTrue(os.path.exists(os.path.join(dest, path)), path)
            with open(os.path.join(dest, 'opt/detour/lib/systemd/system/detour.service')) as f:
                self.assertIn('ExecStart=/opt/detour/bin/detourd', f.read())
            self.assertTrue(os.access(os.path.join(dest, 'opt/detour/bin/detourd'), os.X_OK))
