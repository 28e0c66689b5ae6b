/*
 * config.c - bhyve's configuration tree, kept as a sorted array of
 * path=value pairs (a node is any proper prefix ending at a '.').
 *
 * Not thread-safe, see config.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define	CONFIG_EXPAND_DEPTH	16	/* %(var) chains longer than this are cycles */

struct config_entry {
	char	*ce_path;
	char	*ce_value;
	char	*ce_expanded;	/* cache, NULL until first read */
};

struct config {
	struct config_entry *cf_ent;	/* sorted by ce_path */
	size_t	cf_num;
	size_t	cf_cap;
};

struct config *
config_create(void)
{

	return (calloc(1, sizeof(struct config)));
}

static void
config_drop_cache(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->cf_num; i++) {
		free(cfg->cf_ent[i].ce_expanded);
		cfg->cf_ent[i].ce_expanded = NULL;
	}
}

void
config_destroy(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->cf_num; i++) {
		free(cfg->cf_ent[i].ce_path);
		free(cfg->cf_ent[i].ce_value);
		free(cfg->cf_ent[i].ce_expanded);
	}
	free(cfg->cf_ent);
	free(cfg);
}

/* Index of the first entry whose path is >= key. */
static size_t
config_lower_bound(const struct config *cfg, const char *key)
{
	size_t lo = 0, hi = cfg->cf_num, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(cfg->cf_ent[mid].ce_path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

static struct config_entry *
config_find(const struct config *cfg, const char *path)
{
	size_t i;

	i = config_lower_bound(cfg, path);
	if (i < cfg->cf_num && strcmp(cfg->cf_ent[i].ce_path, path) == 0)
		return (&cfg->cf_ent[i]);
	return (NULL);
}

/* Components are non-empty runs of printable characters other than '=' and '%'. */
static bool
config_path_valid(const char *path)
{
	const char *p;
	bool empty = true;

	for (p = path; *p != '\0'; p++) {
		if (*p == '.') {
			if (empty)
				return (false);
			empty = true;
			continue;
		}
		if (!isgraph((unsigned char)*p) || *p == '=' || *p == '%')
			return (false);
		empty = false;
	}
	return (!empty);
}

static bool
config_prefix_under(const char *path, const char *node, size_t nlen)
{

	return (strncmp(path, node, nlen) == 0 && path[nlen] == '.');
}

bool
config_node_exists(struct config *cfg, const char *node)
{
	size_t i, nlen;

	nlen = strlen(node);
	i = config_lower_bound(cfg, node);
	/* Entries under "node." sort right after "node" itself. */
	for (; i < cfg->cf_num; i++) {
		if (strncmp(cfg->cf_ent[i].ce_path, node, nlen) != 0)
			return (false);
		if (cfg->cf_ent[i].ce_path[nlen] == '\0' ||
		    cfg->cf_ent[i].ce_path[nlen] == '.')
			return (true);
		/* e.g. "node-x" sorts between "node" and "node.y": keep going */
	}
	return (false);
}

/* A variable cannot be a node, nor lie under another variable. */
static int
config_check_shape(struct config *cfg, const char *path)
{
	char *copy, *dot;
	size_t i, plen;

	plen = strlen(path);
	for (i = config_lower_bound(cfg, path); i < cfg->cf_num; i++) {
		if (strncmp(cfg->cf_ent[i].ce_path, path, plen) != 0)
			break;
		if (config_prefix_under(cfg->cf_ent[i].ce_path, path, plen)) {
			fprintf(stderr, "bhyve: config: '%s' is a node "
			    "(holds '%s'), not a variable\n", path,
			    cfg->cf_ent[i].ce_path);
			return (-EINVAL);
		}
	}
	copy = strdup(path);
	if (copy == NULL)
		return (-ENOMEM);
	for (dot = strrchr(copy, '.'); dot != NULL; dot = strrchr(copy, '.')) {
		*dot = '\0';
		if (config_find(cfg, copy) != NULL) {
			fprintf(stderr, "bhyve: config: '%s' is a variable, "
			    "cannot hold '%s'\n", copy, path);
			free(copy);
			return (-EINVAL);
		}
	}
	free(copy);
	return (0);
}

int
set_config_value(struct config *cfg, const char *path, const char *value)
{
	struct config_entry *ce, *nent;
	char *nval, *npath;
	size_t i, ncap;
	int error;

	if (path == NULL || !config_path_valid(path)) {
		fprintf(stderr, "bhyve: config: invalid variable name '%s'\n",
		    path != NULL ? path : "");
		return (-EINVAL);
	}
	if (value == NULL)
		value = "";
	nval = strdup(value);
	if (nval == NULL)
		return (-ENOMEM);
	config_drop_cache(cfg);

	ce = config_find(cfg, path);
	if (ce != NULL) {
		free(ce->ce_value);
		ce->ce_value = nval;
		return (0);
	}
	error = config_check_shape(cfg, path);
	if (error != 0) {
		free(nval);
		return (error);
	}
	if (cfg->cf_num == cfg->cf_cap) {
		ncap = cfg->cf_cap == 0 ? 16 : cfg->cf_cap * 2;
		nent = realloc(cfg->cf_ent, ncap * sizeof(*nent));
		if (nent == NULL) {
			free(nval);
			return (-ENOMEM);
		}
		cfg->cf_ent = nent;
		cfg->cf_cap = ncap;
	}
	npath = strdup(path);
	if (npath == NULL) {
		free(nval);
		return (-ENOMEM);
	}
	i = config_lower_bound(cfg, path);
	memmove(&cfg->cf_ent[i + 1], &cfg->cf_ent[i],
	    (cfg->cf_num - i) * sizeof(cfg->cf_ent[0]));
	cfg->cf_ent[i] = (struct config_entry){ npath, nval, NULL };
	cfg->cf_num++;
	return (0);
}

static char *
config_join(const char *node, const char *name)
{
	char *path;

	if (asprintf(&path, "%s.%s", node, name) < 0)
		return (NULL);
	return (path);
}

int
set_config_value_node(struct config *cfg, const char *node, const char *name,
    const char *value)
{
	char *path;
	int error;

	path = config_join(node, name);
	if (path == NULL)
		return (-ENOMEM);
	error = set_config_value(cfg, path, value);
	free(path);
	return (error);
}

int
set_config_bool(struct config *cfg, const char *path, bool value)
{

	return (set_config_value(cfg, path, value ? "true" : "false"));
}

int
set_config_bool_node(struct config *cfg, const char *node, const char *name,
    bool value)
{

	return (set_config_value_node(cfg, node, name, value ? "true" : "false"));
}

struct config_buf {
	char	*cb_s;
	size_t	cb_len;
	size_t	cb_cap;
};

static int
config_buf_add(struct config_buf *b, const char *s, size_t n)
{
	char *ns;
	size_t ncap;

	if (b->cb_len + n + 1 > b->cb_cap) {
		ncap = (b->cb_len + n + 1) * 2;
		ns = realloc(b->cb_s, ncap);
		if (ns == NULL)
			return (-ENOMEM);
		b->cb_s = ns;
		b->cb_cap = ncap;
	}
	memcpy(b->cb_s + b->cb_len, s, n);
	b->cb_len += n;
	b->cb_s[b->cb_len] = '\0';
	return (0);
}

/* Appends value with its %(path) references expanded; bhyve_config(5). */
static int
config_expand(struct config *cfg, const char *value, int depth,
    struct config_buf *out)
{
	const char *p, *end;
	struct config_entry *ce;
	char *ref;
	int error;

	if (depth >= CONFIG_EXPAND_DEPTH) {
		fprintf(stderr, "bhyve: config: %%(...) references nest too "
		    "deep (a cycle?)\n");
		return (-ELOOP);
	}
	for (p = value; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == '%') {
			error = config_buf_add(out, "%", 1);
			p++;
		} else if (p[0] == '%' && p[1] == '(' &&
		    (end = strchr(p + 2, ')')) != NULL) {
			ref = strndup(p + 2, end - (p + 2));
			if (ref == NULL)
				return (-ENOMEM);
			ce = config_find(cfg, ref);
			if (ce == NULL) {
				fprintf(stderr, "bhyve: config: '%s' refers to "
				    "unset variable '%s'\n", value, ref);
				free(ref);
				return (-ENOENT);
			}
			free(ref);
			error = config_expand(cfg, ce->ce_value, depth + 1, out);
			p = end;
		} else
			error = config_buf_add(out, p, 1);
		if (error != 0)
			return (error);
	}
	return (config_buf_add(out, "", 0));
}

const char *
get_config_value(struct config *cfg, const char *path)
{
	struct config_entry *ce;
	struct config_buf b = { NULL, 0, 0 };

	ce = config_find(cfg, path);
	if (ce == NULL)
		return (NULL);
	if (strchr(ce->ce_value, '%') == NULL)
		return (ce->ce_value);
	if (ce->ce_expanded == NULL) {
		if (config_expand(cfg, ce->ce_value, 0, &b) != 0) {
			free(b.cb_s);
			return (NULL);
		}
		ce->ce_expanded = b.cb_s;
	}
	return (ce->ce_expanded);
}

const char *
get_config_value_node(struct config *cfg, const char *node, const char *name)
{
	const char *value;
	char *path;

	path = config_join(node, name);
	if (path == NULL)
		return (NULL);
	value = get_config_value(cfg, path);
	free(path);
	return (value);
}

static int
config_parse_bool(const char *s, bool *valp)
{

	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "on") == 0 ||
	    strcasecmp(s, "yes") == 0 || strcmp(s, "1") == 0) {
		*valp = true;
		return (0);
	}
	if (strcasecmp(s, "false") == 0 || strcasecmp(s, "off") == 0 ||
	    strcasecmp(s, "no") == 0 || strcmp(s, "0") == 0) {
		*valp = false;
		return (0);
	}
	return (-EINVAL);
}

int
config_get_bool(struct config *cfg, const char *path, bool *valp)
{
	const char *s;

	s = get_config_value(cfg, path);
	if (s == NULL)
		return (-ENOENT);
	return (config_parse_bool(s, valp));
}

int
config_get_bool_node(struct config *cfg, const char *node, const char *name, bool *valp)
{
	const char *s;

	s = get_config_value_node(cfg, node, name);
	if (s == NULL)
		return (-ENOENT);
	return (config_parse_bool(s, valp));
}

bool
get_config_bool_default(struct config *cfg, const char *path, bool def)
{
	bool val;

	if (config_get_bool(cfg, path, &val) != 0)
		return (def);
	return (val);
}

bool
get_config_bool(struct config *cfg, const char *path)
{

	return (get_config_bool_default(cfg, path, false));
}

bool
get_config_bool_node_default(struct config *cfg, const char *node,
    const char *name, bool def)
{
	char *path;
	bool val;

	path = config_join(node, name);
	if (path == NULL)
		return (def);
	val = get_config_bool_default(cfg, path, def);
	free(path);
	return (val);
}

int
config_parse_option(struct config *cfg, const char *opt)
{
	const char *eq;
	char *path;
	int error;

	eq = strchr(opt, '=');
	if (eq == NULL || eq == opt) {
		fprintf(stderr, "bhyve: invalid configuration option '%s' "
		    "(expected path=value)\n", opt);
		return (-EINVAL);
	}
	path = strndup(opt, eq - opt);
	if (path == NULL)
		return (-ENOMEM);
	error = set_config_value(cfg, path, eq + 1);
	free(path);
	return (error);
}

int
config_load_file(struct config *cfg, const char *path)
{
	FILE *fp;
	char *line = NULL, *s;
	size_t cap = 0, len;
	ssize_t n;
	int error = 0, lineno = 0;

	fp = fopen(path, "r");
	if (fp == NULL) {
		error = -errno;
		fprintf(stderr, "bhyve: cannot open config file '%s': %s\n",
		    path, strerror(errno));
		return (error);
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		lineno++;
		len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			line[--len] = '\0';
		for (s = line; isspace((unsigned char)*s); s++)
			continue;
		if (*s == '\0' || *s == '#')
			continue;
		if (strlen(s) != len - (size_t)(s - line) || s != line) {
			fprintf(stderr, "bhyve: %s:%d: leading blanks or NUL "
			    "bytes\n", path, lineno);
			error = -EINVAL;
			break;
		}
		error = config_parse_option(cfg, s);
		if (error != 0) {
			fprintf(stderr, "bhyve: %s:%d: bad line\n", path,
			    lineno);
			break;
		}
	}
	if (error == 0 && ferror(fp)) {
		error = -EIO;
		fprintf(stderr, "bhyve: error reading '%s'\n", path);
	}
	free(line);
	fclose(fp);
	return (error);
}

void
config_dump(struct config *cfg, FILE *fp)
{
	size_t i;

	for (i = 0; i < cfg->cf_num; i++)
		fprintf(fp, "%s=%s\n", cfg->cf_ent[i].ce_path,
		    cfg->cf_ent[i].ce_value);
}
