/* Unit tests for the router: visibility and naming rules, presence on add, remove and
 * replacement, peer lists, resolving ids, and relaying signals rebuilt from fields. */
#include "config.h"

#include <string.h>

#include "p2p-jsonrpc.h"
#include "signald-router.h"

#define FP(c) (g_strnfill(64, (c)))

typedef struct {
	SignaldKeys *keys;
	SignaldRouter *router;
	GPtrArray *sent; /* "OWNER LINE" */
	GPtrArray *peers;
} Fixture;

static void
deliver(gpointer owner, const char *line, gpointer user_data)
{
	Fixture *f = user_data;
	g_ptr_array_add(f->sent, g_strdup_printf("%s %s", ((SignaldPeer *)owner)->agent, line));
}

static void
peer_free(SignaldPeer *p)
{
	g_free(p->agent);
	g_free(p->fingerprint);
	g_free(p);
}

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;
	g_autofree char *h = g_strnfill(64, '0');

	/* alpha <-> beta partners; gamma names alpha, alpha does not name gamma */
	text = g_strdup_printf("[key alpha]\nsha256=%s\npartners=beta\n"
	                       "[key beta]\nsha256=%s\npartners=alpha\n"
	                       "[key gamma]\nsha256=%s\npartners=alpha\n", h, h, h);
	f->keys = signald_keys_load_data(text, strlen(text), "test", &error);
	g_assert_no_error(error);
	f->router = signald_router_new(deliver, f);
	f->sent = g_ptr_array_new_with_free_func(g_free);
	f->peers = g_ptr_array_new_with_free_func((GDestroyNotify)peer_free);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	signald_router_free(f->router);
	g_ptr_array_unref(f->peers);
	g_ptr_array_unref(f->sent);
	signald_keys_free(f->keys);
}

static SignaldPeer *
mkpeer(Fixture *f, const char *key, const char *agent, char fp)
{
	SignaldPeer *p = g_new0(SignaldPeer, 1);
	p->key = signald_keys_lookup_name(f->keys, key);
	g_assert_nonnull(p->key);
	p->agent = g_strdup(agent);
	p->fingerprint = FP(fp);
	p->owner = p;
	g_ptr_array_add(f->peers, p);
	return p;
}

/* how many deliveries to "to" contain every needle */
static guint
count_sent(Fixture *f, const char *to, const char *n1, const char *n2)
{
	g_autofree char *prefix = g_strconcat(to, " ", NULL);
	guint n = 0;
	for (guint i = 0; i < f->sent->len; i++) {
		const char *s = f->sent->pdata[i];
		if (g_str_has_prefix(s, prefix) && strstr(s, n1) && (n2 == NULL || strstr(s, n2)))
			n++;
	}
	return n;
}

static void
test_visible_id(Fixture *f, gconstpointer data)
{
	const SignaldKey *a = signald_keys_lookup_name(f->keys, "alpha");
	const SignaldKey *b = signald_keys_lookup_name(f->keys, "beta");
	const SignaldKey *g = signald_keys_lookup_name(f->keys, "gamma");
	g_autofree char *same = signald_visible_id(a, a, "bob");
	g_autofree char *ab = signald_visible_id(a, b, "carol");
	g_autofree char *ba = signald_visible_id(b, a, "bob");

	g_assert_cmpstr(same, ==, "bob");
	g_assert_cmpstr(ab, ==, "beta.carol");
	g_assert_cmpstr(ba, ==, "alpha.bob");
	g_assert_null(signald_visible_id(a, g, "dave"));
	g_assert_null(signald_visible_id(g, a, "bob"));
	g_assert_null(signald_visible_id(g, b, "carol"));
}

static void
test_presence(Fixture *f, gconstpointer data)
{
	SignaldPeer *bob = mkpeer(f, "alpha", "bob", 'b');
	SignaldPeer *carol = mkpeer(f, "beta", "carol", 'c');
	SignaldPeer *dave = mkpeer(f, "gamma", "dave", 'd');
	SignaldPeer *alice = mkpeer(f, "alpha", "alice", 'a');

	g_assert_null(signald_router_add(f->router, bob));
	g_assert_null(signald_router_add(f->router, carol));
	g_assert_null(signald_router_add(f->router, dave));
	/* carol came online: bob hears "beta.carol"; dave heard nothing from anyone */
	g_assert_cmpuint(count_sent(f, "bob", "\"id\":\"beta.carol\"", "\"online\":true"), ==, 1);
	g_assert_cmpuint(count_sent(f, "dave", "presence", NULL), ==, 0);
	g_assert_cmpuint(count_sent(f, "carol", "presence", NULL), ==, 0);

	g_assert_null(signald_router_add(f->router, alice));
	g_assert_cmpuint(count_sent(f, "bob", "\"id\":\"alice\"", "\"online\":true"), ==, 1);
	g_assert_cmpuint(count_sent(f, "carol", "\"id\":\"alpha.alice\"", "\"online\":true"), ==, 1);
	g_assert_cmpuint(count_sent(f, "dave", "presence", NULL), ==, 0);
	g_assert_cmpuint(count_sent(f, "alice", "presence", NULL), ==, 0);
	g_assert_cmpuint(signald_router_count(f->router, alice->key), ==, 2);

	g_autoptr(JsonNode) list = signald_router_peers(f->router, alice);
	g_autofree char *s = p2p_json_to_string(list);
	g_autofree char *fb = FP('b');
	g_autofree char *fc = FP('c');
	g_autofree char *want = g_strdup_printf("[{\"id\":\"beta.carol\",\"fingerprint\":\"%s\"},"
	                                        "{\"id\":\"bob\",\"fingerprint\":\"%s\"}]", fc, fb);
	g_assert_cmpstr(s, ==, want);
	g_autoptr(JsonNode) dl = signald_router_peers(f->router, dave);
	g_autofree char *ds = p2p_json_to_string(dl);
	g_assert_cmpstr(ds, ==, "[]");

	signald_router_remove(f->router, alice);
	g_assert_cmpuint(count_sent(f, "bob", "\"id\":\"alice\"", "\"online\":false"), ==, 1);
	g_assert_cmpuint(count_sent(f, "carol", "\"id\":\"alpha.alice\"", "\"online\":false"), ==, 1);
	/* a second remove is a no-op */
	signald_router_remove(f->router, alice);
	g_assert_cmpuint(count_sent(f, "bob", "\"online\":false", NULL), ==, 1);
	g_assert_cmpuint(count_sent(f, "dave", "presence", NULL), ==, 0);
}

static void
test_replace(Fixture *f, gconstpointer data)
{
	SignaldPeer *old = mkpeer(f, "alpha", "bob", 'b');
	SignaldPeer *alice = mkpeer(f, "alpha", "alice", 'a');
	SignaldPeer *nbob = mkpeer(f, "alpha", "bob", 'e');

	signald_router_add(f->router, old);
	signald_router_add(f->router, alice);
	g_ptr_array_set_size(f->sent, 0);
	g_assert_true(signald_router_add(f->router, nbob) == old);
	g_assert_cmpuint(signald_router_count(f->router, alice->key), ==, 2);
	g_assert_cmpuint(count_sent(f, "alice", "\"id\":\"bob\"", "\"fingerprint\":\"eeee"), ==, 1);
	/* the replaced peer leaving says nothing: bob is still online */
	signald_router_remove(f->router, old);
	g_assert_cmpuint(count_sent(f, "alice", "\"online\":false", NULL), ==, 0);
	g_assert_true(signald_router_resolve(f->router, alice, "bob") == nbob);
}

static void
test_resolve(Fixture *f, gconstpointer data)
{
	SignaldPeer *bob = mkpeer(f, "alpha", "bob", 'b');
	SignaldPeer *alice = mkpeer(f, "alpha", "alice", 'a');
	SignaldPeer *carol = mkpeer(f, "beta", "carol", 'c');
	SignaldPeer *dave = mkpeer(f, "gamma", "dave", 'd');

	signald_router_add(f->router, bob);
	signald_router_add(f->router, alice);
	signald_router_add(f->router, carol);
	signald_router_add(f->router, dave);
	g_assert_true(signald_router_resolve(f->router, alice, "bob") == bob);
	g_assert_true(signald_router_resolve(f->router, alice, "beta.carol") == carol);
	g_assert_true(signald_router_resolve(f->router, carol, "alpha.bob") == bob);
	g_assert_null(signald_router_resolve(f->router, alice, "alice"));      /* self */
	g_assert_null(signald_router_resolve(f->router, alice, "alpha.bob"));  /* own key dotted */
	g_assert_null(signald_router_resolve(f->router, carol, "bob"));        /* partner bare */
	g_assert_null(signald_router_resolve(f->router, alice, "gamma.dave")); /* one-sided */
	g_assert_null(signald_router_resolve(f->router, dave, "alpha.bob"));
	g_assert_null(signald_router_resolve(f->router, alice, "beta.nobody"));
	g_assert_null(signald_router_resolve(f->router, alice, "nokey.x"));
	g_assert_null(signald_router_resolve(f->router, alice, ".bob"));
	g_assert_null(signald_router_resolve(f->router, alice, ""));
}

static void
test_signal(Fixture *f, gconstpointer data)
{
	SignaldPeer *alice = mkpeer(f, "alpha", "alice", 'a');
	SignaldPeer *carol = mkpeer(f, "beta", "carol", 'c');
	SignaldPeer *dave = mkpeer(f, "gamma", "dave", 'd');
	g_autoptr(JsonArray) cands = json_array_new();
	g_autoptr(GError) error = NULL;

	signald_router_add(f->router, alice);
	signald_router_add(f->router, carol);
	signald_router_add(f->router, dave);
	g_ptr_array_set_size(f->sent, 0);
	json_array_add_string_element(cands, "c1");
	SignaldSignal sig = { "beta.carol", "offer", "s1", "uf", "pw", "datagram", cands };
	g_assert_true(signald_router_signal(f->router, alice, &sig, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(f->sent->len, ==, 1);
	g_autofree char *fa = FP('a');
	g_autofree char *want = g_strdup_printf(
		"carol {\"jsonrpc\":\"2.0\",\"method\":\"signal\",\"params\":{\"from\":\"alpha.alice\","
		"\"fingerprint\":\"%s\",\"kind\":\"offer\",\"session\":\"s1\",\"ufrag\":\"uf\","
		"\"pwd\":\"pw\",\"transport\":\"datagram\",\"candidates\":[\"c1\"]}}\n", fa);
	g_assert_cmpstr(f->sent->pdata[0], ==, want);

	SignaldSignal end = { "alpha.alice", "end", "s1", NULL, NULL, NULL, NULL };
	g_assert_true(signald_router_signal(f->router, carol, &end, &error));
	g_assert_cmpuint(count_sent(f, "alice", "\"from\":\"beta.carol\"", "\"kind\":\"end\""), ==, 1);
	g_assert_cmpuint(count_sent(f, "alice", "ufrag", NULL), ==, 0);

	SignaldSignal bad = { "alpha.alice", "offer", "s1", NULL, NULL, NULL, NULL };
	g_assert_false(signald_router_signal(f->router, dave, &bad, &error));
	g_assert_error(error, P2P_RPC_ERROR, P2P_RPC_UNKNOWN_PEER);
	g_assert_nonnull(strstr(error->message, "no online peer \"alpha.alice\" visible to you"));
	g_assert_cmpuint(count_sent(f, "alice", "gamma", NULL), ==, 0);
}

static void
test_checks(void)
{
	g_autofree char *ok = g_strnfill(64, 'f');
	g_autofree char *upper = g_strnfill(64, 'F');
	g_autofree char *shorter = g_strnfill(63, 'a');

	g_assert_true(signald_fingerprint_valid(ok, NULL));
	g_assert_false(signald_fingerprint_valid(upper, NULL));
	g_assert_false(signald_fingerprint_valid(shorter, NULL));
	g_assert_true(signald_signal_kind_valid("offer"));
	g_assert_true(signald_signal_kind_valid("bye"));
	g_assert_false(signald_signal_kind_valid("Offer"));
	g_assert_false(signald_signal_kind_valid(""));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/signald/router/visible-id", test_visible_id);
	ADD("/signald/router/presence", test_presence);
	ADD("/signald/router/replace", test_replace);
	ADD("/signald/router/resolve", test_resolve);
	ADD("/signald/router/signal", test_signal);
	g_test_add_func("/signald/router/checks", test_checks);
	return g_test_run();
}
