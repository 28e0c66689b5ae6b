/*
 * test_config.c - the config tree and the -s/-l/-o/-k parsers.
 */
#include <errno.h>
#include <unistd.h>

#include "test.h"
#include "bhyve.h"
#include "config.h"

/* Runs with fd `fd` captured; returns what was written to it. */
static char cap_buf[4096];
static int cap_saved = -1, cap_fd;
static FILE *cap_tmp;

static void
cap_begin(int fd)
{

	fflush(stdout);
	fflush(stderr);
	cap_fd = fd;
	cap_tmp = tmpfile();
	cap_saved = dup(fd);
	dup2(fileno(cap_tmp), fd);
}

static const char *
cap_end(void)
{
	size_t n;

	fflush(stdout);
	fflush(stderr);
	dup2(cap_saved, cap_fd);
	close(cap_saved);
	rewind(cap_tmp);
	n = fread(cap_buf, 1, sizeof(cap_buf) - 1, cap_tmp);
	cap_buf[n] = '\0';
	fclose(cap_tmp);
	return (cap_buf);
}

/* Calls pci_parse_slot, returning its result and its stderr. */
static int
slot(struct config *cfg, const char *opt, const char **err)
{
	int r;

	cap_begin(2);
	r = pci_parse_slot(cfg, opt);
	*err = cap_end();
	return (r);
}

static int
lpc(struct config *cfg, const char *opt, const char **err)
{
	int r;

	cap_begin(2);
	r = lpc_device_parse(cfg, opt);
	*err = cap_end();
	return (r);
}

static const char *
val(struct config *cfg, const char *path)
{
	const char *v = get_config_value(cfg, path);

	return (v != NULL ? v : "(null)");
}

TEST(config_set_get)
{
	struct config *cfg = config_create();

	REQUIRE(cfg != NULL);
	CHECK(get_config_value(cfg, "a.b") == NULL);
	CHECK_EQ(set_config_value(cfg, "a.b", "1"), 0);
	CHECK_EQ(set_config_value(cfg, "a.c", "2"), 0);
	CHECK_EQ(set_config_value(cfg, "a-x", "3"), 0);
	CHECK(strcmp(val(cfg, "a.b"), "1") == 0);
	CHECK_EQ(set_config_value(cfg, "a.b", "one"), 0);	/* overwrite */
	CHECK(strcmp(val(cfg, "a.b"), "one") == 0);
	CHECK(strcmp(get_config_value_node(cfg, "a", "c"), "2") == 0);
	CHECK_EQ(set_config_value_node(cfg, "n.o", "d", "e"), 0);
	CHECK(strcmp(val(cfg, "n.o.d"), "e") == 0);
	CHECK(config_node_exists(cfg, "a"));
	CHECK(config_node_exists(cfg, "n.o"));
	CHECK(config_node_exists(cfg, "a.b"));
	CHECK(!config_node_exists(cfg, "n.o.d.x"));
	CHECK(!config_node_exists(cfg, "q"));
	CHECK(!config_node_exists(cfg, "a.b.c"));
	CHECK(get_config_value(cfg, "a") == NULL);	/* a node, not a value */
	config_destroy(cfg);
	config_destroy(NULL);
}

TEST(config_shape_and_names)
{
	struct config *cfg = config_create();
	static const char *const bad[] = { "", ".", "a.", ".a", "a..b",
	    "a b", "a=b", "a%b", "a\tb" };
	size_t i;

	cap_begin(2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(set_config_value(cfg, bad[i], "x"), -EINVAL);
	CHECK_EQ(set_config_value(cfg, NULL, "x"), -EINVAL);
	CHECK_EQ(set_config_value(cfg, "pci.0.0.0.device", "hostbridge"), 0);
	/* A node cannot become a variable, nor a variable a node. */
	CHECK_EQ(set_config_value(cfg, "pci.0.0", "x"), -EINVAL);
	CHECK_EQ(set_config_value(cfg, "pci.0.0.0.device.x", "y"), -EINVAL);
	CHECK_EQ(set_config_value(cfg, "pci", "y"), -EINVAL);
	(void)cap_end();
	CHECK_EQ(set_config_value(cfg, "pci.0.0.1", "ok"), 0);
	CHECK_EQ(set_config_value(cfg, "pci.0.00", "ok"), 0);
	/* NULL stores an empty value. */
	CHECK_EQ(set_config_value(cfg, "e", NULL), 0);
	CHECK(strcmp(val(cfg, "e"), "") == 0);
	config_destroy(cfg);
}

TEST(config_bools)
{
	struct config *cfg = config_create();
	static const char *const t[] = { "true", "TRUE", "on", "yes", "1" };
	static const char *const f[] = { "false", "Off", "no", "0" };
	bool b;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		set_config_value(cfg, "x", t[i]);
		CHECK(get_config_bool(cfg, "x"));
		CHECK_EQ(config_get_bool(cfg, "x", &b), 0);
		CHECK(b);
	}
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		set_config_value(cfg, "x", f[i]);
		CHECK(!get_config_bool_default(cfg, "x", true));
	}
	set_config_value(cfg, "x", "maybe");
	CHECK_EQ(config_get_bool(cfg, "x", &b), -EINVAL);
	CHECK(get_config_bool_default(cfg, "x", true));
	CHECK(!get_config_bool_default(cfg, "x", false));
	CHECK_EQ(config_get_bool(cfg, "unset", &b), -ENOENT);
	CHECK(!get_config_bool(cfg, "unset"));
	CHECK(get_config_bool_default(cfg, "unset", true));
	set_config_bool(cfg, "y", true);
	CHECK(strcmp(val(cfg, "y"), "true") == 0);
	set_config_bool_node(cfg, "n", "z", false);
	CHECK(!get_config_bool_node_default(cfg, "n", "z", true));
	CHECK(get_config_bool_node_default(cfg, "n", "w", true));
	config_destroy(cfg);
}

TEST(config_expansion)
{
	struct config *cfg = config_create();
	const char *err;

	set_config_value(cfg, "name", "vm1");
	set_config_value(cfg, "dir", "/vms/%(name)");
	set_config_value(cfg, "disk", "%(dir)/disk.img");
	set_config_value(cfg, "pct", "100%% %x %(");
	CHECK(strcmp(val(cfg, "disk"), "/vms/vm1/disk.img") == 0);
	CHECK(strcmp(val(cfg, "pct"), "100% %x %(") == 0);
	/* The cache follows later changes. */
	set_config_value(cfg, "name", "vm2");
	CHECK(strcmp(val(cfg, "disk"), "/vms/vm2/disk.img") == 0);
	cap_begin(2);
	set_config_value(cfg, "loop", "%(loop)");
	CHECK(get_config_value(cfg, "loop") == NULL);
	set_config_value(cfg, "dangling", "%(nosuch)");
	CHECK(get_config_value(cfg, "dangling") == NULL);
	err = cap_end();
	CHECK(strstr(err, "nosuch") != NULL);
	/* The dump shows what was set, unexpanded. */
	cap_begin(1);
	config_dump(cfg, stdout);
	err = cap_end();
	CHECK(strstr(err, "disk=%(dir)/disk.img\n") != NULL);
	config_destroy(cfg);
}

TEST(config_parse_option_strings)
{
	struct config *cfg = config_create();
	const char *err;

	CHECK_EQ(config_parse_option(cfg, "x86.strictio=true"), 0);
	CHECK(get_config_bool(cfg, "x86.strictio"));
	CHECK_EQ(config_parse_option(cfg, "a.b=c=d"), 0);
	CHECK(strcmp(val(cfg, "a.b"), "c=d") == 0);
	CHECK_EQ(config_parse_option(cfg, "empty="), 0);
	CHECK(strcmp(val(cfg, "empty"), "") == 0);
	cap_begin(2);
	CHECK_EQ(config_parse_option(cfg, "novalue"), -EINVAL);
	CHECK_EQ(config_parse_option(cfg, "=x"), -EINVAL);
	CHECK_EQ(config_parse_option(cfg, "a..b=x"), -EINVAL);
	err = cap_end();
	CHECK(strstr(err, "invalid configuration option 'novalue'") != NULL);
	config_destroy(cfg);
}

TEST(config_dump_sorted)
{
	struct config *cfg = config_create();
	const char *out;

	set_config_value(cfg, "z", "1");
	set_config_value(cfg, "a.b", "2");
	set_config_value(cfg, "m", "3");
	cap_begin(1);
	config_dump(cfg, stdout);
	out = cap_end();
	CHECK(strcmp(out, "a.b=2\nm=3\nz=1\n") == 0);
	config_destroy(cfg);
}

TEST(config_load_file)
{
	struct config *cfg = config_create();
	char path[] = "/tmp/lhyve-test-cfg-XXXXXX";
	const char *err;
	FILE *fp;
	int fd;

	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("# a comment\n\n   \npci.0.0.0.device=hostbridge\r\n"
	    "  # indented comment\nname=vm%(x)\nx=1\n", fp);
	fclose(fp);
	CHECK_EQ(config_load_file(cfg, path), 0);
	CHECK(strcmp(val(cfg, "pci.0.0.0.device"), "hostbridge") == 0);
	CHECK(strcmp(val(cfg, "name"), "vm1") == 0);

	fp = fopen(path, "w");
	fputs("a=1\nthis line is bad\nb=2\n", fp);
	fclose(fp);
	cap_begin(2);
	CHECK_EQ(config_load_file(cfg, path), -EINVAL);
	err = cap_end();
	CHECK(strstr(err, ":2:") != NULL);
	CHECK(get_config_value(cfg, "b") == NULL);	/* stopped there */

	fp = fopen(path, "w");
	fputs(" a=1\n", fp);
	fclose(fp);
	cap_begin(2);
	CHECK_EQ(config_load_file(cfg, path), -EINVAL);
	(void)cap_end();
	unlink(path);

	cap_begin(2);
	CHECK_EQ(config_load_file(cfg, path), -ENOENT);
	err = cap_end();
	CHECK(strstr(err, "cannot open config file") != NULL);
	config_destroy(cfg);
}

TEST(config_pci_parse_slot_forms)
{
	struct config *cfg = config_create();
	const char *err;

	CHECK_EQ(slot(cfg, "0,hostbridge", &err), 0);
	CHECK(strcmp(val(cfg, "pci.0.0.0.device"), "hostbridge") == 0);
	CHECK_EQ(slot(cfg, "31,lpc", &err), 0);
	CHECK(strcmp(val(cfg, "pci.0.31.0.device"), "lpc") == 0);
	CHECK_EQ(slot(cfg, "1:2,hostbridge", &err), 0);
	CHECK(strcmp(val(cfg, "pci.0.1.2.device"), "hostbridge") == 0);
	CHECK_EQ(slot(cfg, "255:31:7,hostbridge", &err), 0);
	CHECK(strcmp(val(cfg, "pci.255.31.7.device"), "hostbridge") == 0);
	/* Legacy options: key=value, and bare keys as booleans. */
	CHECK_EQ(slot(cfg, "4,hostbridge,vendor=0x1234,,flag", &err), 0);
	CHECK(strcmp(val(cfg, "pci.0.4.0.vendor"), "0x1234") == 0);
	CHECK(strcmp(val(cfg, "pci.0.4.0.flag"), "true") == 0);
	/* amd_hostbridge is a hostbridge with AMD ids. */
	CHECK_EQ(slot(cfg, "5,amd_hostbridge", &err), 0);
	CHECK(strcmp(val(cfg, "pci.0.5.0.device"), "hostbridge") == 0);
	CHECK(strcmp(val(cfg, "pci.0.5.0.vendor"), "0x1022") == 0);
	CHECK(strcmp(val(cfg, "pci.0.5.0.devid"), "0x7432") == 0);
	config_destroy(cfg);
}

TEST(config_pci_parse_slot_errors)
{
	struct config *cfg = config_create();
	const char *err;

	CHECK_EQ(slot(cfg, "40,hostbridge", &err), -1);
	CHECK(strcmp(err, "bhyve: invalid slot '40'\n") == 0);
	CHECK_EQ(slot(cfg, "0:8,hostbridge", &err), -1);
	CHECK(strcmp(err, "bhyve: invalid slot '0:8'\n") == 0);
	CHECK_EQ(slot(cfg, "256:0:0,hostbridge", &err), -1);
	CHECK(strstr(err, "invalid slot '256:0:0'") != NULL);
	CHECK_EQ(slot(cfg, "-1,hostbridge", &err), -1);
	CHECK_EQ(slot(cfg, "1:2:3:4,hostbridge", &err), -1);
	CHECK_EQ(slot(cfg, "3x,hostbridge", &err), -1);
	CHECK_EQ(slot(cfg, ",hostbridge", &err), -1);
	CHECK(strcmp(err, "bhyve: invalid slot ''\n") == 0);
	CHECK_EQ(slot(cfg, "99999999999999999999,hostbridge", &err), -1);
	CHECK_EQ(slot(cfg, "3,foo", &err), -1);
	CHECK(strcmp(err, "bhyve: unknown emulation 'foo' (try -s help)\n")
	    == 0);
	CHECK_EQ(slot(cfg, "3", &err), -1);
	CHECK(strstr(err, "invalid -s option '3'") != NULL);
	CHECK_EQ(slot(cfg, "3,", &err), -1);
	CHECK_EQ(slot(cfg, "", &err), -1);
	CHECK_EQ(slot(cfg, "3,hostbridge,bad key=1", &err), -1);
	CHECK_EQ(slot(cfg, "0,hostbridge", &err), 0);
	CHECK_EQ(slot(cfg, "0:0,lpc", &err), -1);
	CHECK(strcmp(err, "bhyve: slot 0:0:0 is already in use\n") == 0);
	CHECK(strcmp(val(cfg, "pci.0.0.0.device"), "hostbridge") == 0);
	config_destroy(cfg);
}

TEST(config_lpc_device_parse)
{
	struct config *cfg = config_create();
	const char *err;

	CHECK_EQ(lpc(cfg, "com1,stdio", &err), 0);
	CHECK(strcmp(val(cfg, "lpc.com1.path"), "stdio") == 0);
	CHECK_EQ(lpc(cfg, "COM2,/dev/pts/3", &err), 0);
	CHECK(strcmp(val(cfg, "lpc.com2.path"), "/dev/pts/3") == 0);
	CHECK_EQ(lpc(cfg, "com4,/dev/pts/9", &err), 0);
	CHECK_EQ(lpc(cfg, "com1", &err), -1);
	CHECK(strstr(err, "-l com1 needs a backend") != NULL);
	CHECK_EQ(lpc(cfg, "com3,", &err), -1);
	CHECK_EQ(lpc(cfg, "bootrom,/usr/share/uefi.fd", &err), -1);
	CHECK(strstr(err, "bootrom is not supported") != NULL);
	CHECK_EQ(lpc(cfg, "com5,stdio", &err), -1);
	CHECK(strcmp(err, "bhyve: unknown LPC device 'com5' (try -l help)\n")
	    == 0);
	CHECK_EQ(lpc(cfg, "", &err), -1);
	config_destroy(cfg);
}

TEST(config_help_lists)
{
	const char *out;

	cap_begin(1);
	pci_print_supported_devices();
	out = cap_end();
	CHECK(strstr(out, "amd_hostbridge\n") != NULL);
	CHECK(strstr(out, "\nhostbridge\n") != NULL);
	CHECK(strstr(out, "\nlpc\n") != NULL);
	cap_begin(1);
	lpc_print_supported_devices();
	out = cap_end();
	CHECK(strcmp(out, "com1\ncom2\ncom3\ncom4\nfwcfg\npc-testdev\n") == 0);
}
