/* Unit tests for p2p_resolve_alias: how a name typed by the user becomes a peer id. */
#include "config.h"

#include <string.h>

#include "p2pd-daemon.h"

static void
assert_candidates(GPtrArray *c, ...)
{
	va_list ap;
	const char *want;
	guint i = 0;

	g_assert_nonnull(c);
	va_start(ap, c);
	while ((want = va_arg(ap, const char *))) {
		g_assert_cmpuint(i, <, c->len);
		g_assert_cmpstr(c->pdata[i], ==, want);
		i++;
	}
	va_end(ap);
	g_assert_cmpuint(c->len, ==, i);
}

static void
test_exact(void)
{
	const char *const ids[] = { "alpha.bob", "bob", "beta.bob", NULL };
	g_autoptr(GPtrArray) cands = NULL;

	/* the exact id wins even though two aliases would also match */
	const char *got = p2p_resolve_alias(ids, "bob", &cands);
	g_assert_true(got == ids[1]);
	g_assert_null(cands);

	/* a dotted id is found by its full name */
	got = p2p_resolve_alias(ids, "beta.bob", &cands);
	g_assert_true(got == ids[2]);
	g_assert_null(cands);
}

static void
test_unique_alias(void)
{
	const char *const ids[] = { "alice", "key.bob", "other.carol", NULL };
	g_autoptr(GPtrArray) cands = NULL;

	const char *got = p2p_resolve_alias(ids, "bob", &cands);
	g_assert_true(got == ids[1]); /* a pointer into ids, not a copy */
	g_assert_null(cands);
	g_assert_true(p2p_resolve_alias(ids, "carol", NULL) == ids[2]);
	g_assert_true(p2p_resolve_alias(ids, "alice", NULL) == ids[0]);
}

static void
test_ambiguous(void)
{
	const char *const ids[] = { "zeta.bob", "carol", "alpha.bob", "mid.bob", NULL };
	g_autoptr(GPtrArray) cands = NULL;

	g_assert_null(p2p_resolve_alias(ids, "bob", &cands));
	/* sorted, whatever order the ids came in */
	assert_candidates(cands, "alpha.bob", "mid.bob", "zeta.bob", NULL);

	/* callers that do not want the list may pass NULL */
	g_assert_null(p2p_resolve_alias(ids, "bob", NULL));
}

static void
test_dotted_never_alias(void)
{
	const char *const ids[] = { "key.alpha.bob", "x.bob", "bob.x", NULL };
	g_autoptr(GPtrArray) cands = NULL;

	/* "alpha.bob" is neither an id nor a bare name: no suffix matching on it */
	g_assert_null(p2p_resolve_alias(ids, "alpha.bob", &cands));
	g_assert_null(cands);
	g_assert_null(p2p_resolve_alias(ids, "y.bob", &cands));
	g_assert_null(cands);
	/* the alias is what follows the first dot, whole: never a prefix or a part */
	g_assert_true(p2p_resolve_alias(ids, "bob", &cands) == ids[1]);
	g_assert_null(cands);
	g_assert_true(p2p_resolve_alias(ids, "x", &cands) == ids[2]); /* key "bob", agent "x" */
	g_assert_null(cands);
	g_assert_null(p2p_resolve_alias(ids, "alpha", &cands));
	g_assert_null(cands);
	g_assert_null(p2p_resolve_alias(ids, "bo", &cands));
	g_assert_null(cands);
}

static void
test_unknown(void)
{
	const char *const ids[] = { "alice", "key.bob", "key.bobby", NULL };
	const char *const none[] = { NULL };
	g_autoptr(GPtrArray) cands = NULL;

	g_assert_null(p2p_resolve_alias(ids, "mallory", &cands));
	g_assert_null(cands);
	g_assert_null(p2p_resolve_alias(ids, "", &cands));
	g_assert_null(cands);
	g_assert_null(p2p_resolve_alias(ids, "key", &cands));
	g_assert_null(cands);
	g_assert_null(p2p_resolve_alias(none, "bob", &cands));
	g_assert_null(cands);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/p2pd/alias/exact", test_exact);
	g_test_add_func("/p2pd/alias/unique", test_unique_alias);
	g_test_add_func("/p2pd/alias/ambiguous", test_ambiguous);
	g_test_add_func("/p2pd/alias/dotted", test_dotted_never_alias);
	g_test_add_func("/p2pd/alias/unknown", test_unknown);
	return g_test_run();
}
