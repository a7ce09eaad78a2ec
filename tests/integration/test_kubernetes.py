"""test_kubernetes.py — docs/kubernetes: three replicas whose probes name detour's real endpoints, a configuration detourd accepts, and a Redis."""
import os
import subprocess
import tempfile
import unittest

from harness import DETOURD, DetourTestCase, upstream_yaml

try:
    import yaml
except ImportError:  # python3-yaml (make deps)
    yaml = None

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
KUBE = os.path.join(ROOT, 'docs', 'kubernetes')


def documents():
    docs = []
    for name in sorted(os.listdir(KUBE)):
        if name.endswith('.yaml'):
            with open(os.path.join(KUBE, name)) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
    return docs


def find(docs, kind, name):
    for d in docs:
        if d['kind'] == kind and d['metadata']['name'] == name:
            return d
    raise AssertionError('no %s %s in docs/kubernetes' % (kind, name))


@unittest.skipUnless(yaml is not None, 'python3-yaml is not installed (make deps)')
class KubernetesTest(DetourTestCase):

    def test_the_deployment_runs_three_replicas_probed_on_detours_real_endpoints(self):
        docs = documents()
        deploy = find(docs, 'Deployment', 'detour')
        self.assertEqual(deploy['spec']['replicas'], 3)
        container = deploy['spec']['template']['spec']['containers'][0]
        live = container['livenessProbe']['httpGet']
        ready = container['readinessProbe']['httpGet']
        self.assertEqual(live['path'], '/health/live')
        self.assertEqual(ready['path'], '/health')
        ports = {p['name']: p['containerPort'] for p in container['ports']}
        self.assertEqual(ports[live['port']], 8080)
        self.assertEqual(ports[ready['port']], 8080)
        # Every key the container reads comes from the Secret.
        secret = find(docs, 'Secret', container['envFrom'][0]['secretRef']['name'])
        config_text = find(docs, 'ConfigMap', 'detour')['data']['detour.yaml']
        for var in secret['stringData']:
            self.assertIn(var, config_text)
        # The probes' paths answer 200 on a real detourd.
        m = self.mock('m')
        d = self.detour('upstreams:\n' + upstream_yaml('m', m.url) + 'models:\n  "*":\n    targets: [ { upstream: m } ]\n')
        self.assertEqual(d.request('GET', live['path']).status, 200)
        self.assertEqual(d.request('GET', ready['path']).status, 200)

    def test_the_configmap_is_a_configuration_detourd_accepts_and_shares_through_the_redis_service(self):
        docs = documents()
        config_text = find(docs, 'ConfigMap', 'detour')['data']['detour.yaml']
        secret = find(docs, 'Secret', 'detour-keys')['stringData']
        redis = find(docs, 'Service', 'detour-redis')
        self.assertEqual(find(docs, 'Deployment', 'detour-redis')['spec']['replicas'], 1)
        url = yaml.safe_load(config_text)['shared']['redis']
        self.assertEqual(url, 'redis://%s:%d/0' % (redis['metadata']['name'], redis['spec']['ports'][0]['port']))
        with tempfile.NamedTemporaryFile('w', suffix='.yaml', delete=False) as f:
            f.write(config_text)
        try:
            env = dict(os.environ)
            env.update(secret)
            r = subprocess.run([DETOURD, '-t', '-c', f.name], env=env, capture_output=True, text=True, timeout=20)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == '__main__':
    unittest.main()
