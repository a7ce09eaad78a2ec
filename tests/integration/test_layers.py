"""test_layers.py — scripts/check-layers fails on an upward include and on a cycle, and passes on src/;
docs/internals.md names every layer and module of src/."""
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SCRIPT = os.path.join(ROOT, 'scripts', 'check-layers')


def tree(files):
    d = tempfile.mkdtemp(prefix='detour-layers-')
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
        with open(os.path.join(d, path), 'w') as f:
            f.write(text)
    return d


def check(src):
    return subprocess.run([sys.executable, SCRIPT, src], capture_output=True, text=True)


class LayersTest(unittest.TestCase):

    def test_the_tree_keeps_its_layers(self):
        r = check(os.path.join(ROOT, 'src'))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_lower_layer_including_a_higher_one_fails(self):
        r = check(tree({'base/buf.c': '#include "proxy.h"\n', 'serve/proxy.h': '#include "buf.h"\n'}))
        self.assertEqual(r.returncode, 1)
        self.assertIn('buf (base) includes proxy (serve), a higher layer', r.stderr)

    def test_a_cycle_inside_a_layer_fails(self):
        r = check(tree({'serve/exchange.c': '#include "proxy.h"\n', 'serve/proxy.c': '#include "exchange.h"\n'}))
        self.assertEqual(r.returncode, 1)
        self.assertIn('include cycle: exchange -> proxy -> exchange', r.stderr)

    def test_a_file_outside_the_layer_folders_fails(self):
        r = check(tree({'stray.c': '', 'base/buf.c': ''}))
        self.assertEqual(r.returncode, 1)
        self.assertIn('outside the layer folders', r.stderr)


if __name__ == '__main__':
    unittest.main()


class InternalsMapTest(unittest.TestCase):
    """docs/internals.md stays the code's map: every module and layer of src/ is named in it."""

    def test_every_module_and_layer_is_in_the_map(self):
        with open(os.path.join(ROOT, 'docs', 'internals.md')) as f:
            text = f.read()
        src = os.path.join(ROOT, 'src')
        for layer in sorted(os.listdir(src)):
            self.assertTrue('`%s/`' % layer in text, 'layer %s is not in docs/internals.md' % layer)
            for name in sorted(os.listdir(os.path.join(src, layer))):
                stem = os.path.splitext(name)[0]
                self.assertTrue('`%s`' % stem in text, 'module %s/%s is not in docs/internals.md' % (layer, stem))
