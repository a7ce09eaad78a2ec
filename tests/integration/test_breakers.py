"""test_breakers.py — circuit breakers, retries with backoff, Retry-After, health checks and the admin API."""
import time

from harness import DetourTestCase, upstream_yaml

CHAT = '/v1/chat/completions'
ADMIN = 'admin-token-for-tests'


def config(primary, backup=None, breaker='{ failures: 3, window: 10s, cooldown: 1s }', retries='{ attempts: 0 }',
           primary_extra=None, request_timeout='10s', admin=False):
    text = 'server:\n  workers: 2\n  request_timeout: %s\n' % request_timeout
    if admin:
        text += 'auth:\n  admin_token_env: DETOUR_TEST_ADMIN\n'
    fields = {'breaker': breaker, 'retries': retries}
    fields.update(primary_extra or {})
    text += 'upstreams:\n' + upstream_yaml('primary', primary.url, **fields)
    targets = '{ upstream: primary }'
    if backup is not None:
        text += upstream_yaml('backup', backup.url)
        targets += ', { upstream: backup }'
    text += 'models:\n  gpt-4o:\n    targets: [ %s ]\n' % targets
    return text


def wait_until(predicate, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class BreakerTest(DetourTestCase):

    def circuit(self, d, name='primary'):
        r = d.request('GET', '/circuits')
        self.assertEqual(r.status, 200)
        return r.json()['circuits'][name]

    def test_breaker_opens_skips_probes_after_cooldown_and_closes(self):
        primary = self.mock('primary', '--status', '503')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup))
        self.assertEqual(self.circuit(d)['state'], 'closed')
        for _ in range(3):
            r = d.chat()
            self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(primary.requests(CHAT), 3)
        c = self.circuit(d)
        self.assertEqual(c['state'], 'open')
        self.assertEqual(c['failures_in_window'], 3)
        self.assertEqual(c['consecutive_failures'], 3)
        self.assertIsNotNone(c['opened_at'])
        self.assertIsNotNone(c['retry_at'])
        self.assertEqual(c['last_error']['status'], 503)

        # Open: answered by the backup with no call to the primary.
        for _ in range(5):
            r = d.chat()
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers['x-detour-upstream'], 'backup')
            self.assertEqual(r.headers['x-detour-attempts'], '1')
        self.assertEqual(primary.requests(CHAT), 3)

        # The primary recovers; after the cooldown one probe reaches it and closes the breaker.
        primary.faults()
        self.assertEqual(wait_until(lambda: self.circuit(d)['state'] == 'half_open', 5), True)
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertEqual(primary.requests(CHAT), 4)
        c = self.circuit(d)
        self.assertEqual(c['state'], 'closed')
        self.assertEqual(c['consecutive_failures'], 0)
        self.assertEqual(c['cooldown_ms'], 1000)
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertEqual(primary.requests(CHAT), 5)

    def test_failed_probe_reopens_with_the_cooldown_doubled(self):
        primary = self.mock('primary', '--status', '500')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 1, window: 10s, cooldown: 500ms }'))
        d.chat()
        self.assertEqual(self.circuit(d)['state'], 'open')
        self.assertTrue(wait_until(lambda: self.circuit(d)['state'] == 'half_open', 5))
        r = d.chat()                                # the probe fails
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(primary.requests(CHAT), 2)
        c = self.circuit(d)
        self.assertEqual(c['state'], 'open')
        self.assertEqual(c['cooldown_ms'], 1000)

    def test_client_400_never_opens_the_breaker(self):
        primary = self.mock('primary', '--status', '400')
        d = self.detour(config(primary, breaker='{ failures: 2, window: 10s, cooldown: 5s }'))
        for _ in range(4):
            self.assertEqual(d.chat().status, 400)
        c = self.circuit(d)
        self.assertEqual(c['state'], 'closed')
        self.assertEqual(c['failures_in_window'], 0)
        self.assertEqual(primary.requests(CHAT), 4)

    def test_every_breaker_open_is_503_with_retry_after(self):
        primary = self.mock('primary', '--status', '502')
        d = self.detour(config(primary, breaker='{ failures: 1, window: 10s, cooldown: 5s }'))
        self.assertEqual(d.chat().status, 502)
        r = d.chat()
        self.assertEqual(r.status, 503, r)
        err = r.json()['error']
        self.assertEqual(err['code'], 'no_upstream_available')
        self.assertEqual(err['attempts'], [{'upstream': 'primary', 'skipped': 'circuit open'}])
        self.assertIn(int(r.headers['retry-after']), range(1, 6))
        self.assertEqual(primary.requests(CHAT), 1)

    def test_429_with_retry_after_keeps_the_upstream_uncalled(self):
        primary = self.mock('primary', '--status', '429', '--retry-after', '2')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 50, window: 10s, cooldown: 1s }'))
        started = time.monotonic()
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'backup')
        primary.faults()                            # healthy again, but it asked for 2 s
        self.assertIsNotNone(self.circuit(d)['retry_after_until'])
        while time.monotonic() - started < 1.6:
            r = d.chat()
            self.assertEqual(r.headers['x-detour-upstream'], 'backup')
            time.sleep(0.1)
        self.assertEqual(primary.requests(CHAT), 1)
        # Once the pause it asked for is over, it is called again.
        self.assertTrue(wait_until(lambda: self.circuit(d)['retry_after_until'] is None, 5))
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'primary')
        self.assertEqual(primary.requests(CHAT), 2)
        self.assertEqual(self.circuit(d)['state'], 'closed')


class RetryTest(DetourTestCase):

    def test_a_failed_call_is_retried_on_the_same_upstream_with_backoff(self):
        primary = self.mock('primary', '--status', '500', '--times', '1')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, retries='{ attempts: 1, base_delay: 50ms, max_delay: 100ms }'))
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertEqual(r.headers['x-detour-attempts'], '2')
        self.assertEqual(primary.requests(CHAT), 2)
        self.assertEqual(backup.requests(), 0)

    def test_retries_stop_after_attempts_then_fall_over(self):
        primary = self.mock('primary', '--status', '503')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 50, window: 10s, cooldown: 1s }',
                               retries='{ attempts: 2, base_delay: 10ms, max_delay: 20ms }'))
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(r.headers['x-detour-attempts'], '4')
        self.assertEqual(primary.requests(CHAT), 3)

    def test_401_is_not_retried_on_the_same_upstream(self):
        primary = self.mock('primary', '--status', '401')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, retries='{ attempts: 3, base_delay: 10ms, max_delay: 20ms }'))
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(primary.requests(CHAT), 1)
        # The attempts list never carries the upstream's 401 text (it can quote a key).
        primary.faults(status=503)
        d2 = self.detour(config(primary, None, retries='{ attempts: 0 }'))
        primary.faults(status=401)
        r = d2.chat()
        self.assertEqual(r.json()['error']['attempts'][0]['error'], 'authentication failed')

    def test_retry_waits_for_retry_after_when_it_fits_the_deadline(self):
        # ...and max_delay: a longer pause is never waited out (see the test below).
        primary = self.mock('primary', '--status', '503', '--retry-after', '1', '--times', '1')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 50, window: 10s, cooldown: 1s }',
                               retries='{ attempts: 1, base_delay: 10ms, max_delay: 2s }', request_timeout='5s'))
        started = time.monotonic()
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertGreaterEqual(time.monotonic() - started, 0.95)
        self.assertEqual(primary.requests(CHAT), 2)

    def test_retry_after_longer_than_max_delay_falls_over_at_once_and_holds(self):
        # Issue 14 point 1: a 5 s Retry-After fits the 10 s deadline but not
        # max_delay, so the backup is called now, not after 5 s on the primary.
        primary = self.mock('primary', '--status', '429', '--retry-after', '5')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 50, window: 10s, cooldown: 1s }',
                               retries='{ attempts: 1, base_delay: 10ms, max_delay: 200ms }', request_timeout='10s'))
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(r.headers['x-detour-attempts'], '2')
        self.assertEqual(primary.requests(CHAT), 1)
        # The primary is held until its Retry-After: the next request does not call it.
        self.assertIsNotNone(self.circuit_of(d)['retry_after_until'])
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertEqual(r.headers['x-detour-attempts'], '1')
        self.assertEqual(primary.requests(CHAT), 1)

    def circuit_of(self, d, name='primary'):
        return d.request('GET', '/circuits').json()['circuits'][name]

    def test_retry_after_longer_than_the_deadline_falls_over_at_once(self):
        primary = self.mock('primary', '--status', '503', '--retry-after', '30')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 50, window: 10s, cooldown: 1s }',
                               retries='{ attempts: 1, base_delay: 10ms, max_delay: 20ms }', request_timeout='3s'))
        started = time.monotonic()
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'backup')
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertEqual(primary.requests(CHAT), 1)


class HealthCheckTest(DetourTestCase):

    def test_failing_probes_open_the_breaker_and_a_passing_probe_half_opens_it_early(self):
        primary = self.mock('primary', '--status', '503', '--api-key', 'sk-primary')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 2, window: 10s, cooldown: 60s }',
                               primary_extra={'health_check': '{ interval: 200ms, timeout: 1s }',
                                              'api_key_env': 'PRIMARY_KEY'}),
                        env={'PRIMARY_KEY': 'sk-primary'})
        circuit = lambda: d.request('GET', '/circuits').json()['circuits']['primary']
        # No client traffic at all: the probes alone open it.
        self.assertTrue(wait_until(lambda: circuit()['state'] == 'open', 5))
        self.assertEqual(primary.requests(CHAT), 0)
        self.assertGreaterEqual(primary.requests('/v1/models'), 2)
        hc = circuit()['health_check']
        self.assertFalse(hc['ok'])
        self.assertIsNotNone(hc['last_at'])
        self.assertEqual(primary.last_request()['headers'].get('authorization'), 'Bearer sk-primary')
        # Recovery is seen long before the 60 s cooldown.
        primary.faults()
        self.assertTrue(wait_until(lambda: circuit()['state'] == 'half_open', 5))
        self.assertTrue(circuit()['health_check']['ok'])
        r = d.chat()
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertEqual(circuit()['state'], 'closed')


class AdminCircuitTest(DetourTestCase):

    def test_admin_forces_a_breaker_open_and_back(self):
        primary = self.mock('primary')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, admin=True), env={'DETOUR_TEST_ADMIN': ADMIN})
        path = '/admin/circuits/primary'
        self.assertEqual(d.request('POST', path, {'state': 'open'}).status, 401)
        self.assertEqual(d.request('POST', path, {'state': 'open'},
                                   {'Authorization': 'Bearer wrong-token'}).status, 401)
        auth = {'Authorization': 'Bearer ' + ADMIN}
        r = d.request('POST', path, {'state': 'open'}, auth)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['circuits']['primary']['state'], 'open')
        self.assertEqual(r.json()['circuits']['primary']['mode'], 'open')
        self.assertNotIn(ADMIN, r.text)
        for _ in range(3):
            self.assertEqual(d.chat().headers['x-detour-upstream'], 'backup')
        self.assertEqual(primary.requests(CHAT), 0)
        r = d.request('POST', path, {'state': 'auto'}, auth)
        self.assertEqual(r.json()['circuits']['primary']['state'], 'closed')
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'primary')
        self.assertEqual(d.request('POST', '/admin/circuits/nobody', {'state': 'open'}, auth).status, 404)
        self.assertEqual(d.request('POST', path, {'state': 'sideways'}, auth).status, 400)
        self.assertEqual(d.request('POST', path, 'not json', auth).status, 400)

    def test_forced_closed_keeps_sending_whatever_fails(self):
        primary = self.mock('primary', '--status', '503')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 1, window: 10s, cooldown: 10s }', admin=True),
                        env={'DETOUR_TEST_ADMIN': ADMIN})
        d.request('POST', '/admin/circuits/primary', {'state': 'closed'}, {'Authorization': 'Bearer ' + ADMIN})
        for _ in range(3):
            d.chat()
        self.assertEqual(primary.requests(CHAT), 3)

    def test_admin_api_is_absent_without_a_token(self):
        primary = self.mock('primary')
        d = self.detour(config(primary))
        r = d.request('POST', '/admin/circuits/primary', {'state': 'open'}, {'Authorization': 'Bearer x'})
        self.assertEqual(r.status, 404)


class RecoveryTest(DetourTestCase):
    """Issue 14: while one upstream lives, every request is answered."""

    def circuit(self, d, name='primary'):
        return d.request('GET', '/circuits').json()['circuits'][name]

    def test_when_every_target_is_refused_an_early_probe_goes_and_closes_the_breaker(self):
        primary = self.mock('primary', '--status', '503', '--times', '1')
        d = self.detour(config(primary, breaker='{ failures: 1, window: 10s, cooldown: 30s }',
                               primary_extra={'health_check': 'off'}))
        self.assertNotEqual(d.chat().status, 200)   # the only upstream fails: its breaker opens for 30 s
        self.assertEqual(self.circuit(d)['state'], 'open')
        # Right after the fault no probe goes: today's 503 with Retry-After.
        r = d.chat()
        self.assertEqual(r.status, 503, r)
        self.assertIn('retry-after', r.headers)
        self.assertEqual(primary.requests(CHAT), 1)
        # A second later the upstream (healthy again) gets an early probe, long before its cooldown ends.
        time.sleep(1.2)
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertEqual(self.circuit(d)['state'], 'closed')
        self.assertEqual(primary.requests(CHAT), 2)

    def test_calls_to_a_dead_route_stay_bounded(self):
        import threading
        primary = self.mock('primary', '--status', '503')
        backup = self.mock('backup', '--status', '503')
        fields = {'breaker': '{ failures: 1, window: 10s, cooldown: 30s }', 'health_check': 'off'}
        d = self.detour('server:\n  workers: 2\nupstreams:\n' + upstream_yaml('primary', primary.url, **fields) +
                        upstream_yaml('backup', backup.url, **fields) +
                        'models:\n  gpt-4o:\n    targets: [ { upstream: primary }, { upstream: backup } ]\n')
        self.assertEqual(d.chat().status, 502)        # one call each opens both breakers
        self.assertEqual(self.circuit(d, 'backup')['state'], 'open')
        answers = []
        started = time.monotonic()

        def client():
            while time.monotonic() - started < 3.0:
                answers.append(d.chat().status)
        clients = [threading.Thread(target=client) for _ in range(8)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        elapsed = time.monotonic() - started
        self.assertNotIn(200, answers)
        self.assertGreater(len(answers), 30)
        # The call that opened each breaker, then at most one early probe a second.
        bound = 1 + int(elapsed) + 1
        self.assertLessEqual(primary.requests(CHAT), bound)
        self.assertLessEqual(backup.requests(CHAT), bound)

    def test_a_target_skipped_earlier_is_called_again_before_giving_up(self):
        primary = self.mock('primary', '--status', '503', '--times', '1')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 1, window: 10s, cooldown: 1s }',
                               primary_extra={'health_check': 'off'}))
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'backup')   # the primary's breaker opens
        backup.faults(hang=True)
        # The primary is skipped (open), the backup hangs until its 3 s first-byte timeout;
        # meanwhile the primary half-opened, so it is called before the request gives up.
        r = d.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        self.assertEqual(primary.requests(CHAT), 2)
        self.assertEqual(self.circuit(d)['state'], 'closed')

    def test_a_streamed_probe_frees_its_slot_at_its_first_content(self):
        import threading
        primary = self.mock('primary', '--status', '503', '--times', '1')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 1, window: 10s, cooldown: 1s }',
                               primary_extra={'health_check': 'off',
                                              'timeouts': '{ connect: 500ms, first_byte: 3s, idle: 3s, total: 30s }'}))
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'backup')   # the primary's breaker opens
        primary.faults(chunks=3, chunk_delay_ms=2000)                      # healthy, but a slow stream
        self.assertTrue(wait_until(lambda: self.circuit(d)['state'] == 'half_open', 5))
        streamed = []
        probe = threading.Thread(target=lambda: streamed.append(d.chat(stream=True, timeout=30)))
        probe.start()
        try:
            # The probe's first content closes the breaker while its stream still runs...
            self.assertTrue(wait_until(lambda: self.circuit(d)['state'] == 'closed', 5))
            self.assertEqual(primary.stats()['in_flight'], 1)
            # ...so the primary takes traffic again at once.
            primary.faults()
            r = d.chat()
            self.assertEqual(r.headers['x-detour-upstream'], 'primary')
        finally:
            probe.join()
        self.assertEqual(streamed[0].status, 200)
        self.assertIn('[DONE]', streamed[0].text)

    def test_an_open_breaker_gets_health_checks_by_default(self):
        primary = self.mock('primary', '--status', '503', '--times', '1')
        backup = self.mock('backup')
        d = self.detour(config(primary, backup, breaker='{ failures: 1, window: 10s, cooldown: 8s }'))
        self.assertEqual(d.chat().headers['x-detour-upstream'], 'backup')   # open for 8 s
        # Checks every cooldown / 4 (2 s) see the recovery; no client traffic is needed.
        self.assertTrue(wait_until(lambda: self.circuit(d)['state'] == 'closed', 7))
        self.assertGreaterEqual(primary.requests('/v1/models'), 1)
        self.assertEqual(primary.requests(CHAT), 1)
        self.assertEqual(backup.requests('/v1/models'), 0)    # a closed breaker is never checked

    def test_health_check_off_means_no_checks(self):
        primary = self.mock('primary', '--status', '503')
        d = self.detour(config(primary, breaker='{ failures: 1, window: 10s, cooldown: 400ms }',
                               primary_extra={'health_check': 'off'}))
        d.chat()
        time.sleep(1.0)                                   # ten default check intervals
        self.assertEqual(primary.requests('/v1/models'), 0)
        self.assertIsNone(self.circuit(d)['health_check'])
