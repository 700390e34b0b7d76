/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "macro.h"

/* Built-in options every daemon has; getopt codes above any char. */
enum {
	OPT_CONFIG = 'c',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_TABLE = 0x1000,   /* + index into cfg->options */
};

/* -------- value parsers -------- */

int ukd_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < UKD_ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int ukd_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	int base = 10;
	char *end;

	if (!s)
		return -EINVAL;
	/* No sign, no blanks: strtoull would take " -1" as 2^64-1. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!isxdigit((unsigned char)s[0]) || (base == 10 && !isdigit((unsigned char)s[0])))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int ukd_parse_mode(const char *s, mode_t *ret)
{
	unsigned long v;
	char *end;

	if (!s || s[0] < '0' || s[0] > '7')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > 07777)
		return -ERANGE;
	*ret = (mode_t)v;
	return 0;
}

/* -------- the same, describing the failure -------- */

int ukd_config_fail(struct ukd_config *cfg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cfg->error, sizeof(cfg->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int ukd_config_bool(struct ukd_config *cfg, const char *value, bool *ret)
{
	if (ukd_parse_bool(value, ret) < 0)
		return ukd_config_fail(cfg, "expected a boolean (" UKD_BOOL_WORDS ")");
	return 0;
}

int ukd_config_uint(struct ukd_config *cfg, const char *value, uint64_t min, uint64_t max,
		    uint64_t *ret)
{
	if (ukd_parse_uint(value, min, max, ret) < 0)
		return ukd_config_fail(cfg, "expected an integer %llu..%llu",
				       (unsigned long long)min, (unsigned long long)max);
	return 0;
}

int ukd_config_mode(struct ukd_config *cfg, const char *value, mode_t *ret)
{
	if (ukd_parse_mode(value, ret) < 0)
		return ukd_config_fail(cfg, "expected an octal mode 0..7777 (e.g. 0660)");
	return 0;
}

int ukd_config_string(struct ukd_config *cfg, const char *value, char **ret)
{
	char *copy;

	if (!value || !*value)
		return ukd_config_fail(cfg, "expected a non-empty value");
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	free(*ret);
	*ret = copy;
	return 0;
}

/* -------- applying one setting -------- */

/* set() with the message completed: where the setting came from, the key
 * and value, then what set() or a parser said. */
static int apply(struct ukd_config *cfg, const char *key, const char *value, const char *shown)
{
	char reason[sizeof(cfg->error)];
	int r;

	cfg->error[0] = '\0';
	r = cfg->set(cfg, key, value);
	if (r >= 0 || r == -ENOMEM)
		return r;
	if (r == -ENOENT)
		strcpy(reason, "unknown setting");
	else
		snprintf(reason, sizeof(reason), "%s", cfg->error[0] ? cfg->error : "invalid value");
	if (cfg->line)
		ukd_config_fail(cfg, "%s:%u: %s = %s: %s",
			 cfg->where, cfg->line, key, value, reason);
	else
		ukd_config_fail(cfg, "%s: %s", shown, reason);
	return -EINVAL;
}

/* -------- the file -------- */

struct ini_state {
	struct ukd_config *cfg;
	int r;              /* the first failure */
	unsigned int line;  /* counted by the reader below */
	FILE *f;
};

/* inih's line reader, counting lines so that each setting knows its own. */
static char *read_counted_line(char *buf, int size, void *stream)
{
	struct ini_state *s = stream;
	char *p = fgets(buf, size, s->f);

	if (p)
		s->line++;
	return p;
}

static int ini_setting(void *user, const char *section, const char *key, const char *value)
{
	struct ini_state *s = user;
	struct ukd_config *cfg = s->cfg;
	int r;

	if (s->r < 0)
		return 1; /* report the first failure only */
	cfg->line = s->line;
	if (strcmp(section, cfg->program)) {
		ukd_config_fail(cfg, "%s:%u: %s%s%s (expected [%s])",
			 cfg->where, s->line, *section ? "unknown section [" : "setting outside a section",
			 section, *section ? "]" : "", cfg->program);
		s->r = -EINVAL;
		return 1;
	}
	r = apply(cfg, key, value, key);
	if (r < 0)
		s->r = r;
	return 1;
}

int ukd_config_load(struct ukd_config *cfg, const char *path, bool must_exist)
{
	struct ini_state s = { .cfg = cfg };
	_cleanup_free_ char *copy = NULL;
	int r;

	s.f = fopen(path, "re");
	if (!s.f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		r = -errno;
		ukd_config_fail(cfg, "cannot read %s: %s", path, strerror(-r));
		return -EINVAL;
	}
	copy = strdup(path);
	if (!copy) {
		fclose(s.f);
		return -ENOMEM;
	}
	cfg->where = path;
	r = ini_parse_stream(read_counted_line, &s, ini_setting, &s);
	fclose(s.f);
	cfg->line = 0;
	cfg->where = NULL;
	if (s.r < 0)
		return s.r;
	if (r != 0) {
		ukd_config_fail(cfg, "%s:%d: syntax error (expected key = value)",
			 path, r);
		return -EINVAL;
	}
	free(cfg->path);
	cfg->path = TAKE_PTR(copy);
	return 0;
}

/* -------- the command line -------- */

struct getopt_tables {
	struct option *longopts;
	char shortopts[128];
};

static void getopt_tables_done(struct getopt_tables *t)
{
	free(t->longopts);
}

static int getopt_tables_build(struct getopt_tables *t, const struct ukd_option *options)
{
	static const struct option builtin[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
	};
	static const int has_arg[] = {
		[UKD_ARG_NONE] = no_argument,
		[UKD_ARG_REQUIRED] = required_argument,
		[UKD_ARG_OPTIONAL] = optional_argument,
	};
	size_t n = 0, len;

	while (options && options[n].name)
		n++;
	t->longopts = calloc(n + UKD_ARRAY_SIZE(builtin) + 1, sizeof(*t->longopts));
	if (!t->longopts)
		return -ENOMEM;
	memcpy(t->longopts, builtin, sizeof(builtin));
	/* '+': stop at the first non-option; ':': report a missing value. */
	len = (size_t)snprintf(t->shortopts, sizeof(t->shortopts), "+:c:hV");
	for (size_t i = 0; i < n; i++) {
		t->longopts[UKD_ARRAY_SIZE(builtin) + i] = (struct option){
			.name = options[i].name,
			.has_arg = has_arg[options[i].arg],
			.val = OPT_TABLE + (int)i,
		};
		if (options[i].short_name && len + 3 < sizeof(t->shortopts)) {
			t->shortopts[len++] = (char)options[i].short_name;
			if (options[i].arg == UKD_ARG_REQUIRED)
				t->shortopts[len++] = ':';
			t->shortopts[len] = '\0';
		}
	}
	return 0;
}

/* The table index of short option @c, or -1. */
static int short_index(const struct ukd_option *options, int c)
{
	for (int i = 0; options && options[i].name; i++)
		if (options[i].short_name && options[i].short_name == c)
			return i;
	return -1;
}

/* "--fuse DIR" as well as "--fuse=DIR", which is all getopt takes as an
 * optional argument. */
static const char *optional_value(int argc, char **argv)
{
	if (optarg)
		return optarg;
	if (optind < argc && argv[optind][0] != '-')
		return argv[optind++];
	return NULL;
}

static int usage_error(struct ukd_config *cfg, int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		ukd_config_fail(cfg, "option '%s' needs a value", arg);
	else if (optopt && optopt < OPT_TABLE)
		ukd_config_fail(cfg, "unknown option '-%c'", optopt);
	else
		ukd_config_fail(cfg, "unknown option '%s'", arg);
	return -EINVAL;
}

/* One option of the table, from pass 2. */
static int apply_option(struct ukd_config *cfg, const struct ukd_option *o, const char *value)
{
	char shown[160];
	int r;

	if (o->flag_key) {
		snprintf(shown, sizeof(shown), "--%s", o->name);
		r = apply(cfg, o->flag_key, o->flag_value, shown);
		if (r < 0)
			return r;
	}
	if (!o->key || !value)
		return 0;
	snprintf(shown, sizeof(shown), "--%s=%s", o->name, value);
	return apply(cfg, o->key, value, shown);
}

int ukd_config_parse(struct ukd_config *cfg, int argc, char **argv)
{
	_cleanup_(getopt_tables_done) struct getopt_tables t = {};
	const char *config = NULL;
	int c, i, r;

	r = getopt_tables_build(&t, cfg->options);
	if (r < 0)
		return r;

	/* Pass 1: help, version, and which file to read. Errors wait for
	 * pass 2, so that --help works on any command line. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) != -1) {
		if (c == OPT_HELP)
			return UKD_CONFIG_HELP;
		if (c == OPT_VERSION)
			return UKD_CONFIG_VERSION;
		if (c == OPT_CONFIG)
			config = optarg;
		if (c >= OPT_TABLE && cfg->options[c - OPT_TABLE].arg == UKD_ARG_OPTIONAL)
			optional_value(argc, argv);
	}

	r = ukd_config_load(cfg, config ? config : cfg->default_path, config != NULL);
	if (r < 0)
		return r;

	/* Pass 2: the command line over the file. */
	optind = 0;
	while ((c = getopt_long(argc, argv, t.shortopts, t.longopts, NULL)) != -1) {
		const char *value;

		if (c == OPT_CONFIG)
			continue;
		i = c >= OPT_TABLE ? c - OPT_TABLE : short_index(cfg->options, c);
		if (i < 0)
			return usage_error(cfg, c, argv);
		/* Only the long form takes an optional value from the next word. */
		value = c >= OPT_TABLE && cfg->options[i].arg == UKD_ARG_OPTIONAL ?
			optional_value(argc, argv) : optarg;
		r = apply_option(cfg, &cfg->options[i], value);
		if (r < 0)
			return r;
	}
	if (optind < argc) {
		ukd_config_fail(cfg, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	return UKD_CONFIG_RUN;
}

void ukd_config_done(struct ukd_config *cfg)
{
	free(cfg->path);
	cfg->path = NULL;
}
