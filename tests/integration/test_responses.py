"""test_responses.py — the Responses API's stored responses: GET, DELETE, input_items, 404s, store: false, the LRU bound, metrics counting /v1/responses, and a native upstream's response adopted under detour's id."""
from harness import DetourTestCase, upstream_yaml


class ResponsesStoreTest(DetourTestCase):

    def start(self, store='responses:\n  store: { entries: 2 }\n'):
        self.up = self.mock('chatty')
        self.d = self.detour('upstreams:\n' + upstream_yaml('chatty', self.up.url) +
                             'models:\n  gpt-4o:\n    targets: [ { upstream: chatty } ]\n' + store)

    def create(self, text='Hello', **extra):
        body = {'model': 'gpt-4o', 'input': text}
        body.update(extra)
        r = self.d.request('POST', '/v1/responses', body)
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def test_a_stored_response_is_read_listed_and_deleted(self):
        self.start()
        made = self.create('Remember 42')
        r = self.d.request('GET', '/v1/responses/' + made['id'])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()['id'], made['id'])
        self.assertEqual(r.json()['output'], made['output'])
        items = self.d.request('GET', '/v1/responses/%s/input_items' % made['id']).json()
        self.assertEqual(items['object'], 'list')
        self.assertEqual(items['data'][0]['content'], 'Remember 42')
        gone = self.d.request('DELETE', '/v1/responses/' + made['id'])
        self.assertEqual(gone.status, 200)
        self.assertEqual(gone.json(), {'id': made['id'], 'object': 'response', 'deleted': True})
        self.assertEqual(self.d.request('GET', '/v1/responses/' + made['id']).status, 404)
        self.assertEqual(self.d.request('DELETE', '/v1/responses/' + made['id']).status, 404)

    def test_an_unknown_previous_response_id_is_a_404_naming_it(self):
        self.start()
        r = self.d.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'Hi',
                                                      'previous_response_id': 'resp_unknown'})
        self.assertEqual(r.status, 404)
        err = r.json()['error']
        self.assertEqual(err['type'], 'invalid_request_error')
        self.assertEqual(err['param'], 'previous_response_id')
        self.assertIn('resp_unknown', err['message'])
        self.assertEqual(self.up.stats()['requests'], 0)

    def test_a_continued_conversation_sends_the_whole_history(self):
        self.start()
        first = self.create('My name is Ada.')
        self.create('What is my name?', previous_response_id=first['id'])
        sent = self.up.last_request()
        text = str(sent)
        self.assertIn('My name is Ada.', text)
        self.assertIn('Hello from chatty.', text)
        self.assertIn('What is my name?', text)

    def test_store_false_keeps_nothing(self):
        self.start()
        made = self.create('Secret', store=False)
        self.assertFalse(made['store'])
        self.assertEqual(self.d.request('GET', '/v1/responses/' + made['id']).status, 404)

    def test_the_store_keeps_only_its_most_recent_entries(self):
        self.start()
        ids = [self.create('turn %d' % i)['id'] for i in range(3)]
        self.assertEqual(self.d.request('GET', '/v1/responses/' + ids[0]).status, 404)
        self.assertEqual(self.d.request('GET', '/v1/responses/' + ids[1]).status, 200)
        self.assertEqual(self.d.request('GET', '/v1/responses/' + ids[2]).status, 200)

    def test_a_store_of_no_entries_refuses_previous_response_id(self):
        self.start('responses:\n  store: { entries: 0 }\n')
        made = self.create('Hi')
        r = self.d.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'Again',
                                                      'previous_response_id': made['id']})
        self.assertEqual(r.status, 404)

    def test_a_builtin_tool_no_target_can_serve_is_a_400(self):
        self.start()
        r = self.d.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'Search',
                                                      'tools': [{'type': 'web_search_preview'}]})
        self.assertEqual(r.status, 400)
        self.assertIn('web_search_preview', r.json()['error']['message'])
        self.assertEqual(self.up.stats()['requests'], 0)

    def test_metrics_and_headers_count_responses_requests(self):
        self.start()
        r = self.d.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'Hi'})
        self.assertEqual(r.headers.get('x-detour-upstream'), 'chatty')
        self.assertEqual(r.headers.get('x-detour-attempts'), '1')
        self.assertTrue(r.headers.get('x-request-id'))
        metrics = self.d.request('GET', '/metrics').text
        self.assertIn('detour_requests_total{endpoint="responses",code="200"} 1', metrics)


class NativeResponsesTest(DetourTestCase):
    """A native upstream's response goes back under detour's id, with the previous_response_id and
    store the client sent, every other member as the upstream wrote it."""

    def test_a_native_response_carries_detours_id_and_the_clients_fields(self):
        up = self.mock('native', '--content', 'Hello from native.')
        d = self.detour('upstreams:\n' + upstream_yaml('native', up.url, responses='native') +
                        'models:\n  gpt-4o:\n    targets: [ { upstream: native } ]\n')
        first = d.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'My name is Ada.'})
        self.assertEqual(first.status, 200, first.text)
        made = first.json()
        self.assertRegex(made['id'], r'^resp_[0-9a-f]{48}$')
        self.assertIsNone(made['previous_response_id'])
        self.assertTrue(made['store'])
        self.assertEqual(made['output'][0]['content'][0]['text'], 'Hello from native.')
        second = d.request('POST', '/v1/responses', {'model': 'gpt-4o', 'input': 'My name?', 'store': False,
                                                     'previous_response_id': made['id']})
        self.assertEqual(second.status, 200, second.text)
        again = second.json()
        self.assertEqual(again['previous_response_id'], made['id'])
        self.assertFalse(again['store'])
        self.assertNotEqual(again['id'], made['id'])
        # detour expanded the conversation: the upstream never saw the id.
        sent = up.last_request()
        self.assertNotIn('previous_response_id', sent)
        self.assertIn('My name is Ada.', str(sent))
        # Stored under detour's id, as it was answered.
        stored = d.request('GET', '/v1/responses/' + made['id'])
        self.assertEqual(stored.status, 200)
        self.assertEqual(stored.json(), made)
