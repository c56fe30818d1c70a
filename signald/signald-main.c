/* signald-main.c: p2p-signald's command line. Everything else is in libsignald. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "signald-cert.h"
#include "signald-config.h"
#include "signald-keys.h"
#include "signald-server.h"

#define EXIT_USAGE 2

static char *opt_config;
static gboolean opt_check;
static char *opt_make_cert;
static char *opt_add_key;
static char *opt_partners;
static gboolean opt_foreground = TRUE;

static const GOptionEntry mode_entries[] = {
	{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config, "read settings from FILE", "FILE" },
	{ "check-config", 0, 0, G_OPTION_ARG_NONE, &opt_check, "check the settings, print \"config OK\" or the error, exit", NULL },
	{ "make-cert", 0, 0, G_OPTION_ARG_FILENAME, &opt_make_cert, "write DIR/signald.crt and DIR/signald.key (self-signed), exit", "DIR" },
	{ "add-key", 0, 0, G_OPTION_ARG_STRING, &opt_add_key, "add API key NAME to the keys file, print its secret, exit", "NAME" },
	{ "partners", 0, 0, G_OPTION_ARG_STRING, &opt_partners, "with --add-key: partner key names, comma-separated", "A,B" },
	{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &opt_foreground, "stay in the foreground (always: systemd supervises)", NULL },
	{ NULL },
};

static int
die(int code, const GError *error)
{
	g_printerr("p2p-signald: %s\n", error->message);
	return code;
}

static int
add_key(const SignaldConfig *cfg)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) partners = NULL;

	if (opt_partners) {
		partners = g_strsplit_set(opt_partners, ",;", -1);
		/* drop empty items, so "a,,b" and a trailing comma do no harm */
		guint j = 0;
		for (guint i = 0; partners[i]; i++) {
			if (*g_strstrip(partners[i]) == '\0')
				g_free(partners[i]);
			else
				partners[j++] = partners[i];
		}
		partners[j] = NULL;
	}
	g_autofree char *secret = signald_keys_add(cfg->keys, opt_add_key,
	                                           (const char *const *)partners, &error);
	if (secret == NULL)
		return die(EXIT_FAILURE, error);
	printf("%s\n", secret);
	g_printerr("p2p-signald: key \"%s\" written to %s; its secret is printed above and "
	           "stored nowhere\n", opt_add_key, cfg->keys);
	return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new("- signaling server for p2pd");
	g_autoptr(GError) error = NULL;
	g_autoptr(SignaldConfig) cfg = signald_config_new();
	g_autoptr(SignaldKeys) keys = NULL;
	guint n = 0;

	for (const SignaldOption *o = signald_options; o->key; o++)
		n++;
	g_autofree char **values = g_new0(char *, n);
	g_autofree GOptionEntry *entries = g_new0(GOptionEntry, n + 1);
	for (guint i = 0; i < n; i++) {
		entries[i].long_name = signald_options[i].key;
		entries[i].arg = G_OPTION_ARG_STRING;
		entries[i].arg_data = &values[i];
		entries[i].description = signald_options[i].help;
		entries[i].arg_description = signald_options[i].arg;
	}
	g_option_context_add_main_entries(ctx, mode_entries, NULL);
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx, "Every setting is also a key of the [signald] group "
	                                 "of the --config file; flags override the file.\n"
	                                 "See p2p-signald(8).");
	if (!g_option_context_parse(ctx, &argc, &argv, &error))
		return die(EXIT_USAGE, error);
	if (argc > 1) {
		g_printerr("p2p-signald: unexpected argument \"%s\" (see --help)\n", argv[1]);
		return EXIT_USAGE;
	}
	if (opt_partners && !opt_add_key) {
		g_printerr("p2p-signald: --partners only goes with --add-key\n");
		return EXIT_USAGE;
	}

	if (opt_make_cert) {
		if (!signald_cert_make(opt_make_cert, &error))
			return die(EXIT_FAILURE, error);
		printf("wrote %s/" SIGNALD_CERT_FILE " and %s/" SIGNALD_KEY_FILE "\n",
		       opt_make_cert, opt_make_cert);
		return EXIT_SUCCESS;
	}

	if (opt_config && !signald_config_load_file(cfg, opt_config, &error))
		return die(EXIT_FAILURE, error);
	for (guint i = 0; i < n; i++) {
		g_autofree char *origin = g_strdup_printf("--%s", signald_options[i].key);
		if (values[i] && !signald_config_set(cfg, signald_options[i].key, values[i], origin,
		                                     &error))
			return die(EXIT_FAILURE, error);
		g_free(values[i]);
	}
	if (!signald_config_finish(cfg, &error))
		return die(EXIT_FAILURE, error);

	if (opt_add_key)
		return add_key(cfg);

	keys = signald_keys_load(cfg->keys, &error);
	if (keys == NULL)
		return die(EXIT_FAILURE, error);
	SSL_CTX *ssl_ctx = signald_tls_context_new(cfg->certificate, cfg->private_key, &error);
	if (ssl_ctx == NULL)
		return die(EXIT_FAILURE, error);
	if (opt_check) {
		SSL_CTX_free(ssl_ctx);
		printf("config OK\n");
		return EXIT_SUCCESS;
	}

	/* a client that hangs up mid-write must cost an EPIPE, not the process */
	signal(SIGPIPE, SIG_IGN);
	SignaldServer *srv = signald_server_new(cfg, keys, ssl_ctx, &error);
	if (srv == NULL) {
		SSL_CTX_free(ssl_ctx);
		return die(EXIT_FAILURE, error);
	}
	if (cfg->port == 0) {
		printf("%u\n", srv->bound_port);
		fflush(stdout);
	}
	gboolean ok = signald_server_run(srv, &error);
	signald_server_free(srv);
	SSL_CTX_free(ssl_ctx);
	g_free(opt_config);
	g_free(opt_make_cert);
	g_free(opt_add_key);
	g_free(opt_partners);
	if (!ok)
		return die(EXIT_FAILURE, error);
	signald_log("stopped");
	return EXIT_SUCCESS;
}
