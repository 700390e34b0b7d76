/* SPDX-License-Identifier: MIT */
/* lib/config.c: the value parsers, the INI file, the two command-line
 * passes (the command line wins), and messages naming file, line and key. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "check-run.h"

/* A program's settings, as a daemon would keep them. */
struct settings {
	bool keep;
	uint64_t velocity;
	mode_t mode;
	char *dir;
	char *frontend;
	unsigned int n_pci;   /* a repeatable key */
};

static int set(struct ukd_config *cfg, const char *key, const char *value)
{
	struct settings *s = cfg->userdata;

	if (!strcmp(key, "keep"))
		return ukd_config_bool(cfg, value, &s->keep);
	if (!strcmp(key, "velocity"))
		return ukd_config_uint(cfg, value, 1, 127, &s->velocity);
	if (!strcmp(key, "mode"))
		return ukd_config_mode(cfg, value, &s->mode);
	if (!strcmp(key, "mountpoint"))
		return ukd_config_string(cfg, value, &s->dir);
	if (!strcmp(key, "frontend"))
		return ukd_config_string(cfg, value, &s->frontend);
	if (!strcmp(key, "pci")) {
		s->n_pci++;
		return 0;
	}
	return -ENOENT;
}

static const struct ukd_option options[] = {
	{ .name = "cuse", .flag_key = "frontend", .flag_value = "cuse" },
	{ .name = "fuse", .arg = UKD_ARG_OPTIONAL, .key = "mountpoint",
	  .flag_key = "frontend", .flag_value = "fuse" },
	{ .name = "keep", .short_name = 'k', .arg = UKD_ARG_OPTIONAL, .key = "keep",
	  .flag_key = "keep", .flag_value = "yes" },
	{ .name = "velocity", .short_name = 'e', .arg = UKD_ARG_REQUIRED, .key = "velocity" },
	{ .name = "mode", .arg = UKD_ARG_REQUIRED, .key = "mode" },
	{ .name = "pci", .arg = UKD_ARG_REQUIRED, .key = "pci" },
	{}
};

static char conf_path[64];

static void write_conf(const char *text)
{
	FILE *f;
	int fd;

	strcpy(conf_path, "/tmp/ukd-test-config.XXXXXX");
	fd = mkstemp(conf_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Parse @argv (NULL-terminated) over @conf (NULL: no file) into @s. */
static int run(struct ukd_config *cfg, struct settings *s, const char *conf, const char **argv)
{
	int argc = 0, r;

	while (argv[argc])
		argc++;
	*cfg = (struct ukd_config){
		.program = "prog",
		.default_path = "/nonexistent/prog.conf",
		.options = options,
		.set = set,
		.userdata = s,
	};
	if (conf)
		write_conf(conf);
	r = ukd_config_parse(cfg, argc, (char **)argv);
	if (conf)
		unlink(conf_path);
	return r;
}

static void settings_done(struct settings *s)
{
	free(s->dir);
	free(s->frontend);
	memset(s, 0, sizeof(*s));
}

START_TEST(bool_words)
{
	static const char *const yes[] = { "yes", "YES", "True", "on", "On", "1" };
	static const char *const no[] = { "no", "False", "OFF", "0" };
	static const char *const bad[] = { "", "y", "2", "yess", "enable", " yes" };
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		b = false;
		ck_assert_int_eq(ukd_parse_bool(yes[i], &b), 0);
		ck_assert_msg(b, "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++) {
		b = true;
		ck_assert_int_eq(ukd_parse_bool(no[i], &b), 0);
		ck_assert_msg(!b, "%s", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		b = true;
		ck_assert_int_eq(ukd_parse_bool(bad[i], &b), -EINVAL);
		ck_assert(b); /* untouched */
	}
}
END_TEST

START_TEST(uint_and_mode)
{
	uint64_t v = 7;
	mode_t m = 0;

	ck_assert_int_eq(ukd_parse_uint("127", 1, 127, &v), 0);
	ck_assert_uint_eq(v, 127);
	ck_assert_int_eq(ukd_parse_uint("0x10", 0, 100, &v), 0);
	ck_assert_uint_eq(v, 16);
	/* A leading 0 is decimal, not octal. */
	ck_assert_int_eq(ukd_parse_uint("010", 0, 100, &v), 0);
	ck_assert_uint_eq(v, 10);
	v = 7;
	ck_assert_int_eq(ukd_parse_uint("128", 1, 127, &v), -ERANGE);
	ck_assert_int_eq(ukd_parse_uint("0", 1, 127, &v), -ERANGE);
	ck_assert_int_eq(ukd_parse_uint("-1", 0, UINT64_MAX, &v), -EINVAL);
	ck_assert_int_eq(ukd_parse_uint("+1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(ukd_parse_uint(" 1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(ukd_parse_uint("1k", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(ukd_parse_uint("", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(ukd_parse_uint("0x", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(ukd_parse_uint("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(ukd_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);

	ck_assert_int_eq(ukd_parse_mode("0660", &m), 0);
	ck_assert_uint_eq(m, 0660);
	ck_assert_int_eq(ukd_parse_mode("1777", &m), 0);
	ck_assert_uint_eq(m, 01777);
	ck_assert_int_eq(ukd_parse_mode("0668", &m), -EINVAL);
	ck_assert_int_eq(ukd_parse_mode("17777", &m), -ERANGE);
	ck_assert_int_eq(ukd_parse_mode("-1", &m), -EINVAL);
	ck_assert_uint_eq(m, 01777);
}
END_TEST

START_TEST(file_then_command_line)
{
	struct settings s = {};
	struct ukd_config cfg;
	const char *argv[] = { "prog", "-c", NULL, "--velocity=100", "--fuse", "/run/x", NULL };

	write_conf("# a comment\n[prog]\nvelocity = 90\nkeep = On\nmode = 0640\npci = a\npci = b\n");
	argv[2] = conf_path;
	cfg = (struct ukd_config){ .program = "prog", .default_path = "/nonexistent",
				   .options = options, .set = set, .userdata = &s };
	ck_assert_int_eq(ukd_config_parse(&cfg, 6, (char **)argv), UKD_CONFIG_RUN);
	ck_assert_str_eq(cfg.path, conf_path);
	unlink(conf_path);
	ck_assert_uint_eq(s.velocity, 100);   /* the command line wins */
	ck_assert(s.keep);                    /* from the file */
	ck_assert_uint_eq(s.mode, 0640);
	ck_assert_uint_eq(s.n_pci, 2);        /* every occurrence reaches set() */
	ck_assert_str_eq(s.frontend, "fuse"); /* the flag */
	ck_assert_str_eq(s.dir, "/run/x");    /* "--fuse DIR" */
	ukd_config_done(&cfg);
	settings_done(&s);
}
END_TEST

START_TEST(flags_and_optional_values)
{
	struct settings s = { .keep = false };
	struct ukd_config cfg;
	const char *a1[] = { "prog", "--keep=no", "--cuse", "-e", "5", NULL };
	const char *a2[] = { "prog", "-k", "--fuse=/a", NULL };

	ck_assert_int_eq(run(&cfg, &s, NULL, a1), UKD_CONFIG_RUN);
	ck_assert(!s.keep);                     /* keep=yes, then its value no */
	ck_assert_str_eq(s.frontend, "cuse");
	ck_assert_uint_eq(s.velocity, 5);
	ck_assert_ptr_null(cfg.path);           /* the default file does not exist */
	settings_done(&s);
	ck_assert_int_eq(run(&cfg, &s, NULL, a2), UKD_CONFIG_RUN);
	ck_assert(s.keep);
	ck_assert_str_eq(s.dir, "/a");
	settings_done(&s);
}
END_TEST

START_TEST(help_version_first)
{
	struct settings s = {};
	struct ukd_config cfg;
	const char *a1[] = { "prog", "--bogus", "--velocity=999", "--help", NULL };
	const char *a2[] = { "prog", "-V", NULL };

	ck_assert_int_eq(run(&cfg, &s, NULL, a1), UKD_CONFIG_HELP);
	ck_assert_int_eq(run(&cfg, &s, NULL, a2), UKD_CONFIG_VERSION);
	ck_assert_uint_eq(s.velocity, 0); /* nothing applied */
}
END_TEST

/* Each bad input gives -EINVAL and exactly this message. */
static const struct {
	const char *conf;      /* NULL: none */
	const char *argv[4];
	const char *error;     /* with FILE for the config file's path */
} errors[] = {
	{ NULL, { "--velocity=200" }, "--velocity=200: expected an integer 1..127" },
	{ NULL, { "--keep=maybe" }, "--keep=maybe: expected a boolean (yes/no, true/false, on/off, 1/0)" },
	{ NULL, { "--mode=999" }, "--mode=999: expected an octal mode 0..7777 (e.g. 0660)" },
	{ NULL, { "--fuse=" }, "--fuse=: expected a non-empty value" },
	{ NULL, { "--bogus" }, "unknown option '--bogus'" },
	{ NULL, { "-x" }, "unknown option '-x'" },
	{ NULL, { "--velocity" }, "option '--velocity' needs a value" },
	{ NULL, { "extra" }, "unexpected argument 'extra'" },
	{ NULL, { "-c", "/nonexistent/x.conf" }, "cannot read /nonexistent/x.conf: No such file or directory" },
	{ "[prog]\nkeep = yes\nvelocity = 0\n", { NULL }, "FILE:3: velocity = 0: expected an integer 1..127" },
	{ "[prog]\ncolour = red\n", { NULL }, "FILE:2: colour = red: unknown setting" },
	{ "[other]\nkeep = yes\n", { NULL }, "FILE:2: unknown section [other] (expected [prog])" },
	{ "keep = yes\n", { NULL }, "FILE:1: setting outside a section (expected [prog])" },
	{ "[prog]\nkeep\n", { NULL }, "FILE:2: syntax error (expected key = value)" },
};

START_TEST(error_messages)
{
	struct settings s = {};
	struct ukd_config cfg;
	const char *argv[8] = { "prog" };
	char want[512];
	int n = 1, r;

	if (errors[_i].conf) {
		write_conf(errors[_i].conf);
		argv[n++] = "-c";
		argv[n++] = conf_path;
	}
	for (int j = 0; errors[_i].argv[j]; j++)
		argv[n++] = errors[_i].argv[j];
	argv[n] = NULL;
	cfg = (struct ukd_config){ .program = "prog", .default_path = "/nonexistent",
				   .options = options, .set = set, .userdata = &s };
	r = ukd_config_parse(&cfg, n, (char **)argv);
	if (errors[_i].conf)
		unlink(conf_path);
	ck_assert_int_eq(r, -EINVAL);
	if (!strncmp(errors[_i].error, "FILE", 4))
		snprintf(want, sizeof(want), "%s%s", conf_path, errors[_i].error + 4);
	else
		snprintf(want, sizeof(want), "%s", errors[_i].error);
	ck_assert_str_eq(cfg.error, want);
	ukd_config_done(&cfg);
	settings_done(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, bool_words);
	tcase_add_test(tc, uint_and_mode);
	tcase_add_test(tc, file_then_command_line);
	tcase_add_test(tc, flags_and_optional_values);
	tcase_add_test(tc, help_version_first);
	tcase_add_loop_test(tc, error_messages, 0, (int)(sizeof(errors) / sizeof(errors[0])));
	suite_add_tcase(s, tc);
	return ukd_check_run(s);
}
