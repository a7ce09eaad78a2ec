"""test_packaging.py — the unit file passes systemd-analyze, the Dockerfile keeps its promises, make install lays files out."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, DETOURD, ROOT


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


class InstallTest(unittest.TestCase):

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
