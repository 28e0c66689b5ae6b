/*
 * config.h - bhyve's configuration tree (FreeBSD 13+, bhyve_config(5)).
 *
 * Variables are dotted paths ("pci.0.31.0.device"); every prefix of a
 * variable is a node and cannot itself hold a value.  Values may refer to
 * other variables as %(path); "%%" is a literal '%'.  Functions that can
 * fail return 0 or a negative errno and print one line to stderr.
 *
 * Not thread-safe: the tree is built and read by the main thread before the
 * vCPUs start; devices copy what they need at init.
 */
#ifndef LHYVE_CONFIG_H
#define LHYVE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

struct config;

struct config *config_create(void);
void	config_destroy(struct config *cfg);

int	set_config_value(struct config *cfg, const char *path, const char *value);
int	set_config_value_node(struct config *cfg, const char *node,
	    const char *name, const char *value);
int	set_config_bool(struct config *cfg, const char *path, bool value);
int	set_config_bool_node(struct config *cfg, const char *node,
	    const char *name, bool value);

/* The expanded value or NULL; valid until the next set_config_*() on cfg. */
const char *get_config_value(struct config *cfg, const char *path);
const char *get_config_value_node(struct config *cfg, const char *node,
	    const char *name);

/* 0, -ENOENT (unset) or -EINVAL (not true/false/yes/no/on/off/1/0). */
int	config_get_bool(struct config *cfg, const char *path, bool *valp);
int	config_get_bool_node(struct config *cfg, const char *node, const char *name,
	    bool *valp);
bool	get_config_bool(struct config *cfg, const char *path);	/* false if unset */
bool	get_config_bool_default(struct config *cfg, const char *path, bool def);
bool	get_config_bool_node_default(struct config *cfg, const char *node,
	    const char *name, bool def);

/* True if some variable lies under node (or node is a variable). */
bool	config_node_exists(struct config *cfg, const char *node);

int	config_parse_option(struct config *cfg, const char *opt);	/* -o path=value */
int	config_load_file(struct config *cfg, const char *path);	/* -k file */
void	config_dump(struct config *cfg, FILE *fp);		/* path=value, sorted */

#endif /* LHYVE_CONFIG_H */
